build-lead/obj/src/common/crypto.o: src/common/crypto.c \
 src/common/crypto.h src/common/alloc.h
src/common/crypto.h:
src/common/alloc.h:
