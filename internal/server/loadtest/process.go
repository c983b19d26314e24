package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// A Process is an evstore serve process that Start started, listening on
// loopback.
type Process struct {
	// URL is where it listens: http://127.0.0.1:PORT.
	URL string
	// PID is its process id, whose /proc/PID/status Memory reads.
	PID int

	cmd    *exec.Cmd
	exited chan struct{}
	err    error // Wait's, once exited is closed
	stderr *tail
}

// listening is the line evstore serve prints once it listens.
const listening = "evstore serve: listening on "

// Start runs bin (an evstore binary) as "bin serve --addr 127.0.0.1:0
// args...", waits until it prints the address it listens on, and
// returns it. args select the store ("--db", FILE or "--store", URL).
// The process is killed when ctx ends; Stop it when done.
func Start(ctx context.Context, bin string, args ...string) (*Process, error) {
	cmd := exec.CommandContext(ctx, bin, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Cancel = func() error { return cmd.Process.Kill() }
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p := &Process{cmd: cmd, exited: make(chan struct{}), stderr: &tail{max: 4 << 10}}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p.PID = cmd.Process.Pid
	addr := make(chan string, 1)
	go func() {
		lines := bufio.NewScanner(stdout)
		for lines.Scan() {
			if rest, ok := strings.CutPrefix(lines.Text(), listening); ok {
				u, _, _ := strings.Cut(rest, " ")
				select {
				case addr <- u:
				default:
				}
			}
		}
		io.Copy(io.Discard, stdout) // a line too long for the Scanner
		p.err = cmd.Wait()
		close(p.exited)
	}()
	timeout := time.NewTimer(30 * time.Second)
	defer timeout.Stop()
	select {
	case p.URL = <-addr:
	case <-p.exited:
		return nil, fmt.Errorf("%s serve exited before listening: %v: %s", bin, p.err, p.stderr)
	case <-timeout.C:
		p.Stop()
		return nil, fmt.Errorf("%s serve did not print %q within 30s: %s", bin, listening, p.stderr)
	}
	if err := loopbackURL(p.URL); err != nil {
		p.Stop()
		return nil, err
	}
	return p, nil
}

// loopbackURL checks that u is http:// on a loopback IP address: the load
// never leaves the machine.
func loopbackURL(u string) error {
	hostport, ok := strings.CutPrefix(u, "http://")
	if !ok {
		return fmt.Errorf("server URL %q: want http://127.0.0.1:PORT", u)
	}
	host, _, err := net.SplitHostPort(strings.TrimSuffix(hostport, "/"))
	if err != nil {
		return fmt.Errorf("server URL %q: %w", u, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("server URL %q: not a loopback IP address", u)
	}
	return nil
}

// Stop sends the process SIGTERM, waits up to 15 seconds for it to exit
// (evstore serve shuts down gracefully), then kills it. It returns the
// process's error, but not that of a SIGTERM or a kill.
func (p *Process) Stop() error {
	select {
	case <-p.exited:
	default:
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(15 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
			return fmt.Errorf("evstore serve did not stop within 15s of SIGTERM; killed: %s", p.stderr)
		}
	}
	var exit *exec.ExitError
	if errors.As(p.err, &exit) && exit.ExitCode() != 0 {
		return fmt.Errorf("evstore serve: %v: %s", p.err, p.stderr)
	}
	return nil
}

// Stderr returns the last few KiB the process wrote to its stderr.
func (p *Process) Stderr() string { return p.stderr.String() }

// Memory reads the process's resident memory from /proc/PID/status.
func (p *Process) Memory() (Memory, error) { return ReadMemory(p.PID) }

// Memory is a process's resident memory, from /proc/PID/status.
type Memory struct {
	RSS  int64 // VmRSS: resident now, in bytes
	Peak int64 // VmHWM: the most resident so far, in bytes
}

// ReadMemory reads process pid's resident memory (Linux only).
func ReadMemory(pid int) (Memory, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}, err
	}
	var m Memory
	for line := range strings.Lines(string(b)) {
		field, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		var dst *int64
		switch field {
		case "VmRSS":
			dst = &m.RSS
		case "VmHWM":
			dst = &m.Peak
		default:
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return Memory{}, fmt.Errorf("/proc/%d/status: %s: %w", pid, field, err)
		}
		*dst = kb << 10
	}
	if m.RSS == 0 {
		return Memory{}, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
	}
	return m, nil
}

// A tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf.Write(p)
	if extra := t.buf.Len() - t.max; extra > 0 {
		t.buf.Next(extra)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(t.buf.String())
}

// CPU returns the CPU time, user and system, the process has used so
// far, from /proc/PID/stat (Linux only).
func (p *Process) CPU() (time.Duration, error) { return ReadCPU(p.PID) }

// ReadCPU returns the CPU time, user and system, process pid has used
// so far (Linux only).
func ReadCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The fields after the command's name, which is in parentheses and
	// may hold spaces: state is the 3rd field, utime and stime the 14th
	// and 15th.
	i := bytes.LastIndexByte(b, ')')
	var fields []string
	if i >= 0 {
		fields = strings.Fields(string(b[i+1:]))
	}
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, b)
	}
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// clockTicks is the kernel's USER_HZ, the unit of /proc/PID/stat's
// times: 100 on every Linux architecture Go supports.
const clockTicks = 100

// ReadRunDelay returns how long the threads of process pid have been
// runnable but waiting for a CPU, summed over its threads, from
// /proc/PID/task/*/schedstat (Linux only; threads that have exited are
// not counted). On a machine shared with other work, it says how much of
// a run's latency was spent queueing for a CPU.
func ReadRunDelay(pid int) (time.Duration, error) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var sum int64
	for _, t := range tasks {
		b, err := os.ReadFile(dir + "/" + t.Name() + "/schedstat")
		if err != nil {
			continue // the thread has exited
		}
		f := strings.Fields(string(b))
		if len(f) < 2 {
			return 0, fmt.Errorf("%s/%s/schedstat: %q", dir, t.Name(), b)
		}
		ns, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s/%s/schedstat: %w", dir, t.Name(), err)
		}
		sum += ns
	}
	return time.Duration(sum), nil
}
