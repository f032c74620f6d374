build-lead/obj/src/store/migrations.o: src/store/migrations.c \
 src/store/migrations.h
src/store/migrations.h:
