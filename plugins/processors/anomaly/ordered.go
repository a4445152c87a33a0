package anomaly

import (
	"sync"
	"sync/atomic"
)

// ordered passes batches of metrics on in the order their turns were taken,
// whichever goroutine passes its batch first, in the manner of Telegraf's
// plugins/common/parallel.Ordered. A turn is taken where the order is
// decided (under the lock the metrics were scored under), and the batch is
// passed once that lock is let go: without a goroutine of its own, so that
// a batch whose turn it is goes on before pass returns, and allocation-free.
type ordered struct {
	next atomic.Uint64 // the turn take gives next

	mu      sync.Mutex
	serving uint64     // the turn whose batch goes on now, or is awaited
	turned  *sync.Cond // on mu: signalled when a turn ends
}

func (o *ordered) init() { o.turned = sync.NewCond(&o.mu) }

// take returns the next turn.
func (o *ordered) take() uint64 { return o.next.Add(1) - 1 }

// pass waits for the turns before turn to end, calls emit, which passes
// the turn's batch on (to a telegraf.Accumulator), and ends the turn. Every
// turn taken must be passed, or those after it wait for ever.
func (o *ordered) pass(turn uint64, emit func()) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for o.serving != turn {
		o.turned.Wait()
	}
	emit()
	o.serving++
	o.turned.Broadcast()
}

// wait returns once every turn taken so far has ended.
func (o *ordered) wait() {
	last := o.next.Load()
	o.mu.Lock()
	defer o.mu.Unlock()
	for o.serving < last {
		o.turned.Wait()
	}
}
