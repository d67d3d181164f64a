package queue

import (
	"testing"
)

// BenchmarkSubmit measures the synced submission commit of a 1 KiB message from parallel
// writers (Pebble's commit pipeline groups their fsyncs); the disk's fsync latency dominates.
func BenchmarkSubmit(b *testing.B) {
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	body := make([]byte, 1024)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.SetParallelism(10) // 10 × GOMAXPROCS writers, like 20 sessions on 2 cores
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id, err := s.NextID()
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Submit(Submission{Message: msg(id, "user1@contoso.test"), Body: body}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
