# memtoy basics: define, touch, look, remove.
# run: build/vmlab --memtoy -v examples/memtoy/basics.mt
anon buf 8m
anon shared_buf 1m shared
show                      # defined, not mapped yet
map buf
map shared_buf
show
touch buf 0 1m write      # fault in the first megabyte
touch buf 0x100000 8p     # read the next 8 pages
where buf 0 64k
unmap buf
show buf
map buf
touch buf
remove buf shared_buf
show
