# NUMA placement: policies on segments, the task's policy, migration.
# On one node, every bind is to node 0; in the two-node guest, see tests/numa.
# run: build/vmlab --memtoy -v examples/memtoy/numa.mt
numa
mems
cpus
anon pool 4m
map pool
mbind pool interleaved *
touch pool 0 4m write
where pool 0 16p
mbind pool 0 1m bind+move 0
mbind pool 1m 1m preferred *
where pool 0 4p
mpol interleave *
mpol default
migrate 0
lock pool 0 64k
unlock pool 0 64k
