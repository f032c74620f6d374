build-lead/obj/src/common/ids.o: src/common/ids.c src/common/ids.h \
 src/common/clock.h src/common/crypto.h
src/common/ids.h:
src/common/clock.h:
src/common/crypto.h:
