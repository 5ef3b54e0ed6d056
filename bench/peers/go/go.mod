module statefun-c/bench/go-peer

go 1.19

require github.com/apache/flink-statefun/statefun-sdk-go/v3 v3.3.0

require google.golang.org/protobuf v1.26.0 // indirect
