// Command go-peer: the benchmark's two functions written with the official
// StateFun Go SDK (statefun-sdk-go/v3 v3.3.0) and served the way the SDK
// and the playground's Go greeter serve them: the SDK's handler mounted on
// net/http.
//
//	greeter.fns/greet  the logic of examples/greeter/greet.c: count visits
//	                   in `seen`, greet on the Kafka egress, remind after
//	                   the first visit and cancel on the second
//	bench.fns/state    read the raw state `blob`, write back a copy whose
//	                   first 8 bytes (a little-endian counter) are one more
//
//	go-peer --port PORT   (listens on 127.0.0.1)
package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"time"

	"github.com/apache/flink-statefun/statefun-sdk-go/v3/pkg/statefun"
)

var (
	greetType = statefun.TypeNameFrom("greeter.fns/greet")
	egress    = statefun.TypeNameFrom("greeter.io/greetings")
	stateType = statefun.TypeNameFrom("bench.fns/state")
	seenSpec  = statefun.ValueSpec{Name: "seen", ValueType: statefun.Int32Type}
	blobSpec  = statefun.ValueSpec{Name: "blob", ValueType: blobType{}}
)

// blobType is a user type whose value is its bytes as they are.
type blobType struct{}

func (blobType) GetTypeName() statefun.TypeName {
	return statefun.TypeNameFrom("bench.types/blob")
}

func (blobType) Deserialize(r io.Reader, receiver interface{}) error {
	p, ok := receiver.(*[]byte)
	if !ok {
		return errors.New("receiver must be *[]byte")
	}
	var b bytes.Buffer
	if _, err := b.ReadFrom(r); err != nil {
		return err
	}
	*p = b.Bytes()
	return nil
}

func (blobType) Serialize(w io.Writer, data interface{}) error {
	b, ok := data.([]byte)
	if !ok {
		return errors.New("data must be []byte")
	}
	_, err := w.Write(b)
	return err
}

// greet is examples/greeter/greet.c with the Go SDK.
func greet(ctx statefun.Context, msg statefun.Message) error {
	if !msg.IsString() {
		return fmt.Errorf("greeter.fns/greet expects a string, got %s", msg.ValueTypeName())
	}
	var seen int32
	ctx.Storage().Get(seenSpec, &seen)
	seen++
	ctx.Storage().Set(seenSpec, seen)
	id := ctx.Self().Id
	ctx.SendEgress(statefun.KafkaEgressBuilder{
		Target: egress,
		Topic:  "greetings",
		Key:    id,
		Value:  fmt.Sprintf("Hello, %s! You have been here %d time(s).", id, seen),
	})
	token, err := statefun.NewCancellationToken("remind-" + id)
	if err != nil {
		return err
	}
	if seen == 1 {
		ctx.SendAfterWithCancellationToken(60*time.Second, token, statefun.MessageBuilder{
			Target: statefun.Address{FunctionType: greetType, Id: id},
			Value:  id,
		})
	} else if seen == 2 {
		ctx.CancelDelayedMessage(token)
	}
	return nil
}

// state copies the blob with its little-endian counter incremented.
func state(ctx statefun.Context, _ statefun.Message) error {
	var old []byte
	ctx.Storage().Get(blobSpec, &old)
	n := len(old)
	if n < 8 {
		n = 8
	}
	blob := make([]byte, n)
	copy(blob, old)
	binary.LittleEndian.PutUint64(blob, binary.LittleEndian.Uint64(blob)+1)
	ctx.Storage().Set(blobSpec, blob)
	return nil
}

func main() {
	port := flag.Int("port", 8000, "port to listen on (127.0.0.1)")
	flag.Parse()
	b := statefun.StatefulFunctionsBuilder()
	must(b.WithSpec(statefun.StatefulFunctionSpec{
		FunctionType: greetType,
		States:       []statefun.ValueSpec{seenSpec},
		Function:     statefun.StatefulFunctionPointer(greet),
	}))
	must(b.WithSpec(statefun.StatefulFunctionSpec{
		FunctionType: stateType,
		States:       []statefun.ValueSpec{blobSpec},
		Function:     statefun.StatefulFunctionPointer(state),
	}))
	http.Handle("/statefun", b.AsHandler())
	http.Handle("/statefun/", b.AsHandler())
	log.Fatal(http.ListenAndServe(fmt.Sprintf("127.0.0.1:%d", *port), nil))
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
