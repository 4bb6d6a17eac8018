package streamapply

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// receiveQueue is how many messages the receiver reads ahead of the
// applier (a bound on the memory they take, with the size of a row).
const receiveQueue = 1024

// received is one message of the replication stream (a copy of the
// CopyData payload: the connection reuses its buffer), or the error that
// ended the receiver.
type received struct {
	data []byte
	err  error
}

// receiver reads the replication connection on its own goroutine and
// queues what it reads: the applier sees at once whether more is waiting
// (it commits its open group when nothing is), and the source's next
// messages are read while the target applies the previous ones. Only the
// receiver reads the connection; the applier writes its status updates to
// it (a write does not take the connection's lock, a receive does).
type receiver struct {
	msgs chan received
	quit chan struct{}
	wg   sync.WaitGroup
	conn *pgconn.PgConn
	// unwatch ends the watch that moves the read deadline when ctx ends.
	unwatch func() bool
}

// startReceiver starts reading repl until ctx ends, stop is called, or a
// receive fails (the error is then the last item queued).
func startReceiver(ctx context.Context, repl *pgconn.PgConn) *receiver {
	r := &receiver{msgs: make(chan received, receiveQueue), quit: make(chan struct{}), conn: repl}
	// The receive waits without a context (a context per message and its
	// watch took a fifth of the CPU in a catch-up): cancelling ctx moves
	// the read deadline to now instead.
	netConn := repl.Conn()
	r.unwatch = context.AfterFunc(ctx, func() { _ = netConn.SetReadDeadline(time.Now()) })
	r.wg.Add(1)
	go r.run(ctx)
	return r
}

// run is the receiving goroutine.
func (r *receiver) run(ctx context.Context) {
	defer r.wg.Done()
	for {
		raw, err := r.conn.ReceiveMessage(context.Background())
		if err != nil {
			if ctx.Err() != nil || r.stopped() {
				return
			}
			r.put(received{err: fmt.Errorf("source: receive: %w", err)})
			return
		}
		switch msg := raw.(type) {
		case *pgproto3.ErrorResponse:
			r.put(received{err: fmt.Errorf("source: %w", pgconn.ErrorResponseToPgError(msg))})
			return
		case *pgproto3.CopyData:
			if len(msg.Data) == 0 {
				continue
			}
			if !r.put(received{data: append([]byte(nil), msg.Data...)}) {
				return
			}
		default:
			r.put(received{err: fmt.Errorf("source: unexpected message %T while streaming", raw)})
			return
		}
	}
}

// put queues it; false when the receiver is stopped first.
func (r *receiver) put(it received) bool {
	select {
	case r.msgs <- it:
		return true
	case <-r.quit:
		return false
	}
}

// stopped reports whether stop was called.
func (r *receiver) stopped() bool {
	select {
	case <-r.quit:
		return true
	default:
		return false
	}
}

// stop ends the goroutine (a waiting receive ends at once: the read
// deadline is moved to now) and waits for it; the connection's deadline
// is cleared again.
func (r *receiver) stop() {
	r.unwatch()
	close(r.quit)
	conn := r.conn.Conn()
	_ = conn.SetReadDeadline(time.Now())
	r.wg.Wait()
	_ = conn.SetReadDeadline(time.Time{})
}
