package app

import (
	"context"
	"fmt"
	"net"
	"net/http"

	"go.uber.org/zap"

	"github.com/meeboter/meeboter/controllers"
	"github.com/meeboter/meeboter/pkg/config"
	"github.com/meeboter/meeboter/pkg/operatorui"
)

// operatorMux is what METRICS_ADDR serves: /metrics, and the River UI
// when OPERATOR_TOKEN is set.
func operatorMux(ctx context.Context, cfg config.Config, m *controllers.Manager, metricsHandler http.Handler,
	log *zap.Logger) (http.Handler, error) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metricsHandler)
	if cfg.Operator.Token == "" {
		return mux, nil
	}
	ui, err := operatorui.New(ctx, operatorui.Config{Token: cfg.Operator.Token, Writable: cfg.Operator.RiverUIWrite,
		View: controllers.OperatorView},
		m.Client(), log.Named("riverui"))
	if err != nil {
		return nil, err
	}
	mux.Handle(operatorui.Prefix+"/", ui)
	return mux, nil
}

// listeners are the API's and the operator's servers (METRICS_ADDR):
// /metrics and the River UI are never on the API port, where every tenant
// could read the whole fleet.
type listeners struct {
	servers []*http.Server
	lns     []net.Listener
	riverUI bool // the operator's listener serves the River UI
}

func listen(cfg config.Config, apiHandler, operatorHandler http.Handler) (*listeners, error) {
	l := &listeners{riverUI: cfg.Operator.Token != ""}
	add := func(name, addr string, h http.Handler) error {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			l.close()
			return fmt.Errorf("%s: %w", name, err)
		}
		l.lns = append(l.lns, ln)
		l.servers = append(l.servers, newHTTPServer(cfg.HTTP, h))
		return nil
	}
	if err := add("HTTP_ADDR", cfg.HTTPAddr, apiHandler); err != nil {
		return nil, err
	}
	if err := add("METRICS_ADDR", cfg.MetricsAddr, operatorHandler); err != nil {
		return nil, err
	}
	return l, nil
}

// newHTTPServer bounds every phase of a connection, so a client that drips
// its request, never reads its response or idles cannot hold a connection.
func newHTTPServer(c config.HTTP, h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: c.ReadHeaderTimeout, ReadTimeout: c.ReadTimeout,
		WriteTimeout: c.WriteTimeout, IdleTimeout: c.IdleTimeout, MaxHeaderBytes: c.MaxHeaderBytes}
}

func (l *listeners) close() {
	for _, ln := range l.lns {
		_ = ln.Close()
	}
}

// serve runs every server until ctx ends or one fails.
func (l *listeners) serve(ctx context.Context, log *zap.Logger) error {
	errs := make(chan error, len(l.servers))
	for i, srv := range l.servers {
		go func() { errs <- srv.Serve(l.lns[i]) }()
	}
	operator := "http://" + l.lns[len(l.lns)-1].Addr().String()
	fields := []zap.Field{zap.String("api", "http://"+l.lns[0].Addr().String()), zap.String("metrics", operator+"/metrics")}
	if l.riverUI {
		fields = append(fields, zap.String("riverui", operator+operatorui.Prefix+"/"))
	}
	log.Info("serving", fields...)
	select {
	case <-ctx.Done():
		return nil
	case err := <-errs:
		return err
	}
}

func (l *listeners) shutdown(ctx context.Context) {
	for _, srv := range l.servers {
		_ = srv.Shutdown(ctx)
	}
}
