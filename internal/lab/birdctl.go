package lab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// BIRD's control protocol, as birdc speaks it on the control socket: every
// reply line starts with a four-digit code and a '-' (more lines follow) or
// a ' ' (the reply ends here), or with a ' ' alone (a continuation of the
// previous code). Codes 0xxx end an action, 1xxx and 2xxx are table rows and
// headings, 8xxx and 9xxx runtime and syntax errors. The server greets with
// "0001 BIRD 2.0.12 ready." on connect.

// birdReply reads one reply and returns its text as birdc prints it (codes
// removed, code 0000 lines left out) and its final code.
func birdReply(r *bufio.Reader) (string, int, error) {
	var b strings.Builder
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return b.String(), -1, err
		}
		line = strings.TrimSuffix(line, "\n")
		if strings.HasPrefix(line, " ") {
			b.WriteString(line[1:] + "\n")
			continue
		}
		if strings.HasPrefix(line, "+") { // asynchronous message
			continue
		}
		code, err := strconv.Atoi(line[:min(4, len(line))])
		if len(line) < 5 || err != nil || (line[4] != ' ' && line[4] != '-') {
			return b.String(), -1, fmt.Errorf("unexpected reply line %q", line)
		}
		if code != 0 {
			b.WriteString(line[5:] + "\n")
		}
		if line[4] == ' ' {
			return b.String(), code, nil
		}
	}
}

// BirdQuery sends one command to the BIRD control socket at path and
// returns the reply as birdc prints it. An error reply (code 8000 and up)
// is an error with BIRD's text.
func BirdQuery(ctx context.Context, path, cmd string, timeout time.Duration) (string, error) {
	if strings.ContainsAny(cmd, "\n\r") {
		return "", errors.New("a command is one line")
	}
	d := net.Dialer{Timeout: timeout}
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return "", fmt.Errorf("connect to control socket: %w", errors.Unwrap(err))
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	r := bufio.NewReader(c)
	if _, _, err := birdReply(r); err != nil {
		return "", fmt.Errorf("read greeting: %w", err)
	}
	if _, err := c.Write([]byte(cmd + "\n")); err != nil {
		return "", err
	}
	text, code, err := birdReply(r)
	if err != nil {
		return "", fmt.Errorf("read reply: %w", err)
	}
	if code >= 8000 {
		return "", errors.New(strings.TrimSpace(text))
	}
	return text, nil
}

// Query sends cmd to the daemon's control socket (Spec.Control, spoken as
// BIRD's control protocol) and returns the reply text.
func (d *Daemon) Query(ctx context.Context, cmd string, timeout time.Duration) (string, error) {
	if d.Spec.Control == "" {
		return "", fmt.Errorf("%s has no control socket", d.Name())
	}
	if d.Pid() == 0 { // plan mode
		return "", nil
	}
	select {
	case <-d.Done():
		return "", fmt.Errorf("%s is not running (%s)", d.Name(), how(d.Result()))
	default:
	}
	return BirdQuery(ctx, d.Path(d.Spec.Control), cmd, timeout)
}
