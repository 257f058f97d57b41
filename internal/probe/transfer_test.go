package probe

import (
	"context"
	"testing"
	"time"
)

func TestTransfer(t *testing.T) {
	t.Parallel()
	a, b := pair(t)
	serve(t, b, "tcp", ":7000")
	const n = 8 << 20
	r := Transfer(context.Background(), a, "10.9.0.2:7000", n, 10*time.Second)
	t.Logf("%v %s", r.Outcome, r.Detail)
	if !r.OK || r.Bytes != n || r.Peer == "" || r.Elapsed <= 0 {
		t.Errorf("Transfer = %+v", r)
	}
	r = Transfer(context.Background(), a, "[fd00::2]:7000", 0, 10*time.Second)
	if !r.OK || r.Bytes != 0 {
		t.Errorf("empty Transfer = %+v", r)
	}
	r = Transfer(context.Background(), a, "10.9.0.2:7999", n, time.Second)
	if r.OK || r.Outcome != Unreachable {
		t.Errorf("Transfer to a closed port = %+v", r)
	}
}
