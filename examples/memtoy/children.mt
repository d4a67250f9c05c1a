# children: a child has a command loop; '/name cmd' sends it a command.
# run: build/vmlab --memtoy -v examples/memtoy/children.mt
anon common 1m shared
map common
touch common 0 64k write
child worker
/worker anon mine 256k
/worker map mine
/worker touch mine 0 256k write
/worker touch common 0 64k read
/worker child helper
/worker/helper pid
/
kick worker USR1
snooze 50ms
