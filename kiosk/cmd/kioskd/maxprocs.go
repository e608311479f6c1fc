// The runtime re-reads the cgroup CPU limit every second to follow a
// changed quota (Go 1.25+): a wakeup and three system calls a second in
// an idle daemon, for a terminal whose CPUs never change while it runs.
// GOMAXPROCS is still taken from the limit at start.

//go:debug updatemaxprocs=0

package main
