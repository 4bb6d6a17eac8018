package pgtest

import (
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Proxy is a TCP proxy on 127.0.0.1 in front of a server, for network
// faults: Pause/Resume stop and restart the traffic of open connections,
// BlackHole makes the network silent (new connections hang, open ones
// stall) until Heal, and Reset closes every open connection at once.
type Proxy struct {
	l      net.Listener
	target string

	mu     sync.Mutex
	cond   *sync.Cond
	paused bool // no byte moves (open connections stall; new ones wait)
	conns  map[*proxyConn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// proxyConn is one client connection and its server side.
type proxyConn struct{ client, server net.Conn }

// NewProxy starts a proxy to the server's TCP port; it stops at cleanup.
func (c *Cluster) NewProxy(t testing.TB) *Proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pgtest: proxy: %v", err)
	}
	p := &Proxy{l: l, target: net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)), conns: map[*proxyConn]struct{}{}}
	p.cond = sync.NewCond(&p.mu)
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// Port is the proxy's port on 127.0.0.1.
func (p *Proxy) Port() int { return p.l.Addr().(*net.TCPAddr).Port }

// Pause stops every byte in both directions, as a network black hole does:
// open connections stall, new connections are accepted but get no answer.
func (p *Proxy) Pause() {
	p.mu.Lock()
	p.paused = true
	p.mu.Unlock()
}

// BlackHole is Pause: packets vanish, nobody gets an error.
func (p *Proxy) BlackHole() { p.Pause() }

// Resume lets traffic flow again after Pause or BlackHole.
func (p *Proxy) Resume() {
	p.mu.Lock()
	p.paused = false
	p.cond.Broadcast()
	p.mu.Unlock()
}

// Heal is Resume.
func (p *Proxy) Heal() { p.Resume() }

// Reset closes every open connection at once (both sides see a reset);
// new connections are accepted as before.
func (p *Proxy) Reset() int {
	p.mu.Lock()
	conns := p.conns
	p.conns = map[*proxyConn]struct{}{}
	p.mu.Unlock()
	for pc := range conns {
		pc.abort()
	}
	return len(conns)
}

// Conns is the number of open connections through the proxy.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// abort closes both sides with SO_LINGER 0, so that the peers see a
// connection reset rather than an orderly end.
func (pc *proxyConn) abort() {
	for _, c := range []net.Conn{pc.client, pc.server} {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		_ = c.Close()
	}
}

func (p *Proxy) close() {
	p.mu.Lock()
	p.closed = true
	p.paused = false
	p.cond.Broadcast()
	p.mu.Unlock()
	_ = p.l.Close()
	p.Reset()
	p.wg.Wait()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.l.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.serve(client)
	}
}

// serve dials the server and copies both ways.
func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	if !p.waitFlowing() {
		_ = client.Close()
		return
	}
	server, err := net.DialTimeout("tcp", p.target, 10*time.Second)
	if err != nil {
		_ = client.Close()
		return
	}
	pc := &proxyConn{client: client, server: server}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		pc.abort()
		return
	}
	p.conns[pc] = struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { p.pipe(server, client); done <- struct{}{} }()
	go func() { p.pipe(client, server); done <- struct{}{} }()
	<-done
	p.mu.Lock()
	delete(p.conns, pc)
	p.mu.Unlock()
	_ = client.Close()
	_ = server.Close()
	<-done
}

// pipe copies from src to dst in small chunks, holding each chunk while
// the proxy is paused.
func (p *Proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 16<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.waitFlowing() {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				if tc, ok := dst.(*net.TCPConn); ok {
					_ = tc.CloseWrite()
				}
			}
			return
		}
	}
}

// waitFlowing blocks while the proxy is paused; false once it is closed.
func (p *Proxy) waitFlowing() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.paused && !p.closed {
		p.cond.Wait()
	}
	return !p.closed
}
