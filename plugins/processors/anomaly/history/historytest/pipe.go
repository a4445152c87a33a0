package historytest

import (
	"context"
	"net"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"
)

// PipeURL is the url of a server served by Pipe.
const PipeURL = "http://historytest.pipe:8086"

// Pipe serves h in process over net.Pipe connections, for a test in a
// testing/synctest bubble, where a goroutine blocked on the network would
// stop the fake clock. Call it in the bubble, and set the returned dial as
// the history Config's DialContext and PipeURL as its url; the server stops
// when the test ends. With h nil nothing listens: every dial is refused, as
// by a database that is down.
func Pipe(t testing.TB, h http.Handler) (dial func(ctx context.Context, network, address string) (net.Conn, error)) {
	l := &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
	if h == nil {
		l.Close()
		return l.dial
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: time.Minute}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(l)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-served
	})
	return l.dial
}

// pipeListener is a net.Listener whose connections dial makes.
type pipeListener struct {
	conns  chan net.Conn
	done   chan struct{}
	closed sync.Once
}

// Accept returns the server's end of the next connection dialed.
func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close refuses the dials to come.
func (l *pipeListener) Close() error {
	l.closed.Do(func() { close(l.done) })
	return nil
}

// Addr is the listener's address, PipeURL's host.
func (*pipeListener) Addr() net.Addr { return pipeAddr{} }

// dial connects to the listener, or is refused once it is closed.
func (l *pipeListener) dial(ctx context.Context, network, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		client.Close()
		server.Close()
		return nil, &net.OpError{Op: "dial", Net: network, Addr: pipeAddr{}, Err: syscall.ECONNREFUSED}
	case <-ctx.Done():
		client.Close()
		server.Close()
		return nil, ctx.Err()
	}
}

// pipeAddr is the address of a Pipe server.
type pipeAddr struct{}

// Network names the in-process network.
func (pipeAddr) Network() string { return "pipe" }

// String is PipeURL's host.
func (pipeAddr) String() string { return "historytest.pipe:8086" }
