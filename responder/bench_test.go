package responder

import (
	"testing"
	"time"

	"github.com/icmpgw/icmpgw/tun/tuntest"
)

func BenchmarkAppendError(b *testing.B) {
	orig := tuntest.UDP(client, server, 1, 1000)
	buf := make([]byte, 0, MaxErrorLen)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendError(buf[:0], Origin{r1, 1, TTL}, orig, TimeExceeded(), MaxErrorLen, 0)
	}
}

func BenchmarkLimiterAllow(b *testing.B) {
	l := Policy{}.NewLimiter()
	now := time.Unix(0, 0)
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Millisecond)
		l.Allow(client, TimeExceeded(), now)
	}
}
