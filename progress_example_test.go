package evstore_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/go-event-sourcing/evstore"
)

// A service that answers a write with the read model's view of it: the
// HTTP handler appends, then waits for the consumer that keeps the read
// model to have processed its event before it reads the model. Without the
// wait, the answer could miss the write it reports (the consumer runs on
// its own goroutine, or in another process).
func ExampleStore_WaitConsumer() {
	store := open()
	defer store.Close()
	ctx, stop := context.WithCancel(context.Background())
	defer stop()

	// The read model: how many notes each user wrote, kept by the
	// consumer "note-counts".
	var mu sync.Mutex
	counts := map[string]int{}
	consumed := make(chan error, 1)
	go func() {
		consumed <- store.Consume(ctx, "note-counts", evstore.HandlerFunc(func(ctx context.Context, events []evstore.StoredEvent) error {
			mu.Lock()
			defer mu.Unlock()
			for _, e := range events {
				counts[e.StreamID]++
			}
			return nil
		}))
	}()

	mux := http.NewServeMux()
	mux.HandleFunc("POST /notes/{user}", func(w http.ResponseWriter, r *http.Request) {
		stream, err := store.Stream(r.Context(), r.PathValue("user"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var report evstore.WriteReport
		if _, err := stream.Write(r.Context(), []evstore.CandidateEvent{{Type: "NoteWritten"}}, evstore.Report(&report)); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		// Read your write: wait (a bounded time) for the read model.
		wait, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := store.WaitConsumer(wait, "note-counts", report.Last); err != nil {
			w.WriteHeader(http.StatusAccepted) // written; the read model will follow
			return
		}
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(w, "%s has written %d notes\n", stream.ID(), counts[stream.ID()])
	})

	for range 3 {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("POST", "/notes/ada", strings.NewReader("")))
		fmt.Print(rec.Code, " ", rec.Body.String())
	}
	stop()
	if err := <-consumed; err != nil {
		log.Fatal(err)
	}
	// Output:
	// 200 ada has written 1 notes
	// 200 ada has written 2 notes
	// 200 ada has written 3 notes
}
