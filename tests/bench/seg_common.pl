# Shared by tests/bench/touch and tests/bench/where: build the C baseline,
# run vmlab and C side by side, take medians.
use strict;
use warnings;
use File::Basename qw(dirname);

our $dir = dirname(__FILE__);
our $vmlab = $ENV{VMLAB} || 'build/vmlab';
our $runs = $ENV{BENCH_RUNS} || 5;
our $size = $ENV{BENCH_SIZE} || 1 << 30;
my $build = $ENV{VMLAB_BUILD} || 'build';
our $base = "$build/bench/seg_baseline";
system('mkdir', '-p', "$build/bench") == 0 or die;
system("cc -O2 -o $base $dir/seg_baseline.c -lnuma") == 0 or die "cannot build the baseline\n";

sub run1 { my $out = `@_`; die "@_ failed\n" if $?; chomp $out; return $out + 0 }
sub median { my @s = sort { $a <=> $b } @_; return $s[int(@s / 2)] }

# Returns the medians (vmlab seconds, C seconds) of $runs interleaved runs.
sub side_by_side {
    my ($lua_what, $c_what) = @_;
    my (@v, @c);
    for (1 .. $runs) {
        push @v, run1("$vmlab $dir/seg_bench.lua $lua_what $size");
        push @c, run1("$base $c_what $size");
    }
    return (median(@v), median(@c));
}
1;
