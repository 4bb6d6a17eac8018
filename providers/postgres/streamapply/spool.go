package streamapply

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// spool holds the changes of one large transaction that the source
// streams while it is still in progress (protocol version 2), in a
// temporary file, until its commit (apply them) or abort (drop them) comes.
// Memory stays bounded whatever the transaction's size. The file is
// removed when the spool is closed; a crash loses it, which is safe: the
// transaction is not committed on the target, so the slot sends it again.
type spool struct {
	f *os.File
	w *bufio.Writer
	// size is the file's logical length (written plus buffered).
	size int64
	// subxacts are the subtransactions seen, in order, with the offset of
	// their first change: aborting one cuts the file there.
	subxacts []subxact
}

type subxact struct {
	xid    uint32
	offset int64
}

// newSpool creates a spool file in dir ("" for the system's temporary
// directory).
func newSpool(dir string, xid uint32) (*spool, error) {
	f, err := os.CreateTemp(dir, fmt.Sprintf("database-replicator-stream-%d-*", xid))
	if err != nil {
		return nil, fmt.Errorf("spool streamed transaction %d: %w", xid, err)
	}
	return &spool{f: f, w: bufio.NewWriterSize(f, 256<<10)}, nil
}

// add appends one raw pgoutput message of (sub)transaction xid.
func (s *spool) add(xid uint32, msg []byte) error {
	if n := len(s.subxacts); n == 0 || s.subxacts[n-1].xid != xid {
		seen := false
		for _, sx := range s.subxacts {
			if sx.xid == xid {
				seen = true
				break
			}
		}
		if !seen {
			s.subxacts = append(s.subxacts, subxact{xid: xid, offset: s.size})
		}
	}
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(msg)))
	if _, err := s.w.Write(hdr[:]); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	if _, err := s.w.Write(msg); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	s.size += int64(4 + len(msg))
	return nil
}

// abortSub drops the changes of subtransaction xid and of every
// subtransaction that started after it (its children), as PostgreSQL's own
// apply worker does.
func (s *spool) abortSub(xid uint32) error {
	for i, sx := range s.subxacts {
		if sx.xid != xid {
			continue
		}
		if err := s.w.Flush(); err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		if err := s.f.Truncate(sx.offset); err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		if _, err := s.f.Seek(sx.offset, io.SeekStart); err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		s.w.Reset(s.f)
		s.size = sx.offset
		s.subxacts = s.subxacts[:i]
		return nil
	}
	return nil // no change of that subtransaction was streamed
}

// replay calls fn with each spooled message in order.
func (s *spool) replay(fn func(msg []byte) error) error {
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	r := bufio.NewReaderSize(io.LimitReader(s.f, s.size), 256<<10)
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("spool: read: %w", err)
		}
		// A buffer per message: the values of a change stay referenced
		// by the pending batch until it is sent.
		buf := make([]byte, binary.BigEndian.Uint32(hdr[:]))
		if _, err := io.ReadFull(r, buf); err != nil {
			return fmt.Errorf("spool: read: %w", err)
		}
		if err := fn(buf); err != nil {
			return err
		}
	}
}

// close removes the file.
func (s *spool) close() {
	if s == nil || s.f == nil {
		return
	}
	name := s.f.Name()
	_ = s.f.Close()
	_ = os.Remove(name)
	s.f = nil
}
