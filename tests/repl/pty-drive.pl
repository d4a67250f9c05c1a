#!/usr/bin/perl
# Drive a program through a real pseudo-terminal, as a person at a prompt.
#   pty-drive.pl CMD [ARGS] -- STEP...
# Steps: send:TEXT (\n \t \x03 escapes), expect:REGEX, sleep:SECONDS,
#        intr (Ctrl-C), eof (Ctrl-D, sent once a prompt shows),
#        kill:SIG (send SIG to the program once it catches SIG: a pause armed).  Each expect waits up to $PTY_TIMEOUT
# (default 10) seconds.  Prints "transcript:" and everything read; exits 0
# when every expect matched and the program ended, 1 otherwise.
use strict;
use warnings;
use IO::Pty;
use POSIX qw(:sys_wait_h);

my @cmd;
while (@ARGV && $ARGV[0] ne '--') { push @cmd, shift @ARGV }
shift @ARGV;
my @steps = @ARGV;
my $timeout = $ENV{PTY_TIMEOUT} || 10;

my $pty = IO::Pty->new;
$pty->set_winsize(24, 100) if $pty->can('set_winsize');
my $pid = fork // die "fork: $!";
if ($pid == 0) {
    $pty->make_slave_controlling_terminal;
    my $slave = $pty->slave;
    close $pty;
    open STDIN, '<&', $slave or die;
    open STDOUT, '>&', $slave or die;
    open STDERR, '>&', $slave or die;
    $ENV{TERM} = 'dumb';
    exec @cmd or die "exec: $!";
}
$pty->close_slave;

my $seen = '';
my $pos = 0;   # expects match after the previous match
sub readsome {
    my ($wait) = @_;
    my $rin = '';
    vec($rin, fileno($pty), 1) = 1;
    if (select(my $rout = $rin, undef, undef, $wait) > 0) {
        my $n = sysread($pty, my $buf, 65536);
        return 0 unless $n;
        $buf =~ s/\r//g;
        $seen .= $buf;
        return 1;
    }
    return -1;
}
sub unescape { my $s = shift; $s =~ s/\\n/\n/g; $s =~ s/\\t/\t/g; $s =~ s/\\x([0-9a-f]{2})/chr(hex($1))/ge; $s }

my $ok = 1;
for my $step (@steps) {
    if ($step =~ /^send:(.*)$/s) { syswrite($pty, unescape($1)); }
    elsif ($step eq 'intr') { syswrite($pty, "\x03"); }
    elsif ($step eq 'eof') {
        # Only at a prompt: readline has the terminal in raw mode then; a
        # ^D typed while code runs would be eaten by the line discipline.
        my $end = time + $timeout;
        readsome(0.1) while $seen !~ /> $/ && time < $end;
        syswrite($pty, "\x04");
    }
    elsif ($step =~ /^kill:(\w+)$/) {
        my $sig = $1;
        my $num = { HUP => 1, INT => 2, QUIT => 3, USR1 => 10, USR2 => 12, ALRM => 14 }->{$sig};
        my $end = time + $timeout;
        while ($num && time < $end) {
            open(my $st, '<', "/proc/$pid/status") or last;
            my ($cgt) = map { /^SigCgt:\s*(\w+)/ ? $1 : () } <$st>;
            close $st;
            last if $cgt && (hex(substr($cgt, -8)) >> ($num - 1)) & 1;
            readsome(0.02);
        }
        kill $sig, $pid;
    }
    elsif ($step =~ /^sleep:(.*)$/) { my $end = time + $1; readsome(0.05) while time < $end; }
    elsif ($step =~ /^expect:(.*)$/s) {
        my $re = $1;
        my $end = time + $timeout;
        my $found = 0;
        while (1) {
            if (substr($seen, $pos) =~ /$re/) { $pos += $+[0]; $found = 1; last; }
            last if time > $end;
            last if readsome(0.2) == 0;
        }
        if (!$found) { print "FAILED: expect:$re\n"; $ok = 0; last; }
    }
}
# Let the program end (a timeout kills it).
my $end = time + $timeout;
while (time < $end) { last if waitpid($pid, WNOHANG) > 0; readsome(0.1); }
if (kill 0, $pid) { kill 'KILL', $pid; waitpid($pid, 0); print "FAILED: still running\n"; $ok = 0; }
print "transcript:\n$seen\n";
exit($ok ? 0 : 1);
