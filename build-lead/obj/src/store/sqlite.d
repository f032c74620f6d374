build-lead/obj/src/store/sqlite.o: src/store/sqlite.c src/store/store.h \
 src/core/status.h src/core/task.h src/core/models.h src/common/alloc.h \
 src/common/limits.h src/store/migrations.h
src/store/store.h:
src/core/status.h:
src/core/task.h:
src/core/models.h:
src/common/alloc.h:
src/common/limits.h:
src/store/migrations.h:
