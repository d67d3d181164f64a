package server

import (
	"context"
	"os"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// startTracing sets up OpenTelemetry tracing from the standard environment: with
// OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT set (and OTEL_TRACES_EXPORTER
// not "none") spans go out with OTLP over HTTP, batched; service.name is exlab unless
// OTEL_SERVICE_NAME says otherwise. Without them it returns a nil tracer: nothing is recorded.
func startTracing(version string) (trace.Tracer, func(), error) {
	if os.Getenv("OTEL_TRACES_EXPORTER") == "none" ||
		(os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "") {
		return nil, func() {}, nil
	}
	exp, err := otlptracehttp.New(context.Background())
	if err != nil {
		return nil, nil, err
	}
	res, err := resource.Merge(resource.NewSchemaless(attribute.String("service.name", "exlab"), attribute.String("service.version", version)),
		resource.Environment())
	if err != nil {
		return nil, nil, err
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = tp.Shutdown(ctx)
	}
	return tp.Tracer("github.com/exlab/exlab"), stop, nil
}
