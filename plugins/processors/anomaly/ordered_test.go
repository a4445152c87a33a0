package anomaly

import (
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"
)

// TestOrderedPassesInTurn: batches go on in the order their turns were
// taken whatever the order they are passed in, a batch whose turn it is
// goes on before pass returns, and wait returns once every turn taken has
// ended.
func TestOrderedPassesInTurn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var o ordered
		o.init()
		var got []uint64
		turns := make([]uint64, 5)
		for i := range turns {
			turns[i] = o.take()
		}
		// The later turns are passed first: each waits for those before it.
		for i := len(turns) - 1; i > 0; i-- {
			go o.pass(turns[i], func() { got = append(got, turns[i]) })
			synctest.Wait()
			require.Empty(t, got, "turn %d went on before turn 0", turns[i])
		}
		done := make(chan struct{})
		go func() {
			o.wait()
			close(done)
		}()
		o.pass(turns[0], func() { got = append(got, turns[0]) })
		<-done
		require.Equal(t, turns, got)

		next := o.take()
		o.pass(next, func() { got = append(got, next) })
		require.Equal(t, next, got[len(got)-1], "its turn: on before pass returns")
	})
}
