package kubecluster

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/meeboter/meeboter/hack/devenv/childproc"
	"github.com/meeboter/meeboter/hack/devenv/proctail"
	"github.com/meeboter/meeboter/hack/devenv/toolbin"
)

// The control plane's binaries, pinned in hack/kubetools.
var (
	APIServer = toolbin.Tool{Name: "kube-apiserver", Pkg: "k8s.io/kubernetes/cmd/kube-apiserver",
		Module: "hack/kubetools", Env: "KUBE_APISERVER_BIN"}
	Etcd = toolbin.Tool{Name: "etcd", Pkg: "./etcd", Module: "hack/kubetools", Env: "ETCD_BIN"}
)

// Config describes a cluster to start. Only Dir is required.
type Config struct {
	// Dir holds etcd's data, the API server's certificates and keys.
	Dir string
	// Log receives both processes' output (default: discarded; the end of
	// it is in Start's errors).
	Log io.Writer
	// StartTimeout bounds the wait for the API server to be ready (default 2 min:
	// it builds its caches and RBAC roles on a small machine).
	StartTimeout time.Duration
}

// Cluster is a running etcd and kube-apiserver.
type Cluster struct {
	cfg       Config
	token     string
	apiPort   int
	etcd, api *process
	apiArgs   []string
	apiBin    string
}

// adminUser is the token file's one user, in system:masters.
const adminUser = "meeboter-test-admin"

// Start starts etcd, then kube-apiserver on loopback ports, and waits until
// the API server is ready.
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = 2 * time.Minute
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("kubecluster: %w", err)
	}
	etcdBin, err := toolbin.Path(ctx, Etcd)
	if err != nil {
		return nil, err
	}
	apiBin, err := toolbin.Path(ctx, APIServer)
	if err != nil {
		return nil, err
	}
	c := &Cluster{cfg: cfg, token: rand.Text(), apiBin: apiBin}
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	c.etcd, err = startProcess(etcdBin, cfg.Log, "--data-dir", filepath.Join(cfg.Dir, "etcd"),
		"--listen-client-urls", etcdURL, "--listen-peer-urls", "http://127.0.0.1:"+strconv.Itoa(ports[1]))
	if err != nil {
		return nil, err
	}
	c.apiPort = ports[2]
	if c.apiArgs, err = c.apiServerArgs(etcdURL); err != nil {
		c.Stop()
		return nil, err
	}
	if err := c.startAPIServer(ctx); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// apiServerArgs writes the token file and service-account key and returns
// the API server's flags: RBAC authorization (so tests can act as a
// service account), the default admission plugins.
func (c *Cluster) apiServerArgs(etcdURL string) ([]string, error) {
	tokens := filepath.Join(c.cfg.Dir, "tokens.csv")
	if err := os.WriteFile(tokens, []byte(c.token+","+adminUser+",1,system:masters\n"), 0o600); err != nil {
		return nil, err
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	saKey := filepath.Join(c.cfg.Dir, "sa.key")
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(saKey, pemKey, 0o600); err != nil {
		return nil, err
	}
	return []string{"--etcd-servers=" + etcdURL, "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(c.apiPort), "--cert-dir=" + filepath.Join(c.cfg.Dir, "certs"),
		"--service-cluster-ip-range=10.96.0.0/16", "--token-auth-file=" + tokens, "--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc", "--service-account-key-file=" + saKey,
		"--service-account-signing-key-file=" + saKey, "--endpoint-reconciler-type=none",
		"--enable-priority-and-fairness=false", "--profiling=false"}, nil
}

func (c *Cluster) startAPIServer(ctx context.Context) error {
	api, err := startProcess(c.apiBin, c.cfg.Log, c.apiArgs...)
	if err != nil {
		return err
	}
	c.api = api
	wait, cancel := context.WithTimeout(ctx, c.cfg.StartTimeout)
	defer cancel()
	if err := c.waitReady(wait); err != nil {
		return fmt.Errorf("kubecluster: kube-apiserver not ready: %w\n%s", err, api.tail.String())
	}
	return nil
}

// waitReady polls /readyz until it answers 200.
func (c *Cluster) waitReady(ctx context.Context) error {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // readiness only; clients verify
	url := c.Host() + "/readyz"
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, http.NoBody)
		req.Header.Set("Authorization", "Bearer "+c.token)
		if res, err := client.Do(req); err == nil {
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.api.Exited():
			return errors.New("kube-apiserver exited")
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Host is the API server's URL.
func (c *Cluster) Host() string { return "https://127.0.0.1:" + strconv.Itoa(c.apiPort) }

// Config is a client configuration for the cluster's administrator.
func (c *Cluster) Config() *rest.Config {
	return &rest.Config{Host: c.Host(), BearerToken: c.token, QPS: 200, Burst: 400,
		TLSClientConfig: rest.TLSClientConfig{CAFile: filepath.Join(c.cfg.Dir, "certs", "apiserver.crt")}}
}

// ConfigAs is a client configuration acting as user (impersonated by the
// administrator), for checking what a role allows.
func (c *Cluster) ConfigAs(user string, groups ...string) *rest.Config {
	cfg := c.Config()
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: groups}
	return cfg
}

// RestartAPIServer stops the API server and starts it again on the same
// port and data: clients' watches break and must resume.
func (c *Cluster) RestartAPIServer(ctx context.Context) error {
	c.api.stop()
	return c.startAPIServer(ctx)
}

// Stop stops the API server, then etcd.
func (c *Cluster) Stop() {
	if c.api != nil {
		c.api.stop()
	}
	if c.etcd != nil {
		c.etcd.stop()
	}
}

// process is one running binary and the end of its output.
type process struct {
	*childproc.Process
	tail *proctail.Tail
}

// startProcess starts bin in its own process group; it dies with us.
func startProcess(bin string, log io.Writer, args ...string) (*process, error) {
	tail := &proctail.Tail{Also: log}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = tail, tail
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p, err := childproc.Start(cmd)
	if err != nil {
		return nil, fmt.Errorf("kubecluster: start %s: %w", filepath.Base(bin), err)
	}
	return &process{Process: p, tail: tail}, nil
}

// stop sends SIGTERM, then SIGKILL after 10 s.
func (p *process) stop() { p.Stop(syscall.SIGTERM, 10*time.Second) }

// freePorts picks n free loopback ports.
func freePorts(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			_ = ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// WriteKubeconfig writes a kubeconfig for the administrator to path, for a
// process (`meeboter serve`) to reach the cluster through KUBECONFIG.
func (c *Cluster) WriteKubeconfig(path string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["test"] = &clientcmdapi.Cluster{Server: c.Host(), CertificateAuthority: c.Config().CAFile}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: c.token}
	cfg.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "admin"}
	cfg.CurrentContext = "test"
	return clientcmd.WriteToFile(*cfg, path)
}
