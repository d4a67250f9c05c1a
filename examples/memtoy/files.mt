# mapped files: a scratch file, mapped whole and from an offset.
# run: build/vmlab --memtoy -v examples/memtoy/files.mt
shmem scratch_shm 2m
map scratch_shm
touch scratch_shm 0 2m write
slock scratch_shm
sunlock scratch_shm
file /etc/passwd
map passwd
touch passwd
show passwd
unmap passwd
map passwd 0 *
remove passwd scratch_shm
