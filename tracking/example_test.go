package tracking_test

import (
	"context"
	"fmt"
	"time"

	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/tracking"
)

// A Recorder between decisions and a sink: the first decision for a unit
// records its exposure, the next ones cost a look-up; Close sends what is
// queued.
func ExampleRecorder() {
	sink := newMemSink() // in a service: tracking.NewHTTPSink(rampURL, sdkKey, nil)
	rec := tracking.NewRecorder(sink, tracking.Options{FlushInterval: 100 * time.Millisecond})

	d := flags.Decision{Key: "ig-dm-via-whatsapp", Variant: "inline", Reason: flags.ReasonSplit,
		Origin: &flags.Origin{Kind: flags.OriginExperiment, Key: "dm-handoff-vs-inline", Phase: 1, Unit: "accountCenterId"}}
	user := map[string]any{"targetingKey": "ig-12", "accountCenterId": "ac-12"}
	for range 3 {
		rec.Expose(&d, user) // what an evaluation does after deciding
	}
	rec.Track(tracking.Event{Name: "dm_reply", Value: 1, Units: map[string]string{"targetingKey": "ig-12", "accountCenterId": "ac-12"}})

	if err := rec.Close(context.Background()); err != nil {
		fmt.Println(err)
	}
	s := rec.Stats()
	fmt.Printf("exposures: %d recorded, %d deduplicated, %d sent; events: %d sent\n",
		s.ExposuresRecorded, s.ExposuresDeduplicated, s.ExposuresSent, s.EventsSent)
	// Output: exposures: 1 recorded, 2 deduplicated, 1 sent; events: 1 sent
}

// The identifiers an event keeps from the context it is tracked with.
func ExampleIdentifiers() {
	units, _ := tracking.Identifiers(map[string]any{
		"targetingKey": "ig-12", "accountCenterId": 12345.0, "region": "US", "email": "a@example.com",
	}, []string{"accountCenterId"})
	fmt.Println(units)
	// Output: map[accountCenterId:12345 targetingKey:ig-12]
}
