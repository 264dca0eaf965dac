package s3server_test

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/lifecycle"
	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/hack/devenv/s3server"
)

func TestPutAndStatObject(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := s3server.StartT(t)
	require.Equal(t, "http://"+s.HostPort(), s.Endpoint())
	require.Equal(t, "us-east-1", s.Region())
	require.Len(t, s.AccessKey(), 20)
	require.Len(t, s.SecretKey(), 40)

	c := client(t, s, s.AccessKey(), s.SecretKey())
	require.NoError(t, c.MakeBucket(ctx, "recordings", minio.MakeBucketOptions{Region: s.Region()}))
	body := []byte("not really a video")
	_, err := c.PutObject(ctx, "recordings", "bots/1/video.mp4", bytes.NewReader(body), int64(len(body)),
		minio.PutObjectOptions{ContentType: "video/mp4"})
	require.NoError(t, err)

	info, err := c.StatObject(ctx, "recordings", "bots/1/video.mp4", minio.StatObjectOptions{})
	require.NoError(t, err)
	require.Equal(t, int64(len(body)), info.Size)
	require.Equal(t, "video/mp4", info.ContentType)
}

func TestWrongCredentialsAreRefused(t *testing.T) {
	t.Parallel()
	s := s3server.StartT(t)
	refused := []string{"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"}

	_, err := client(t, s, s.AccessKey(), "wrong-secret-wrong-secret-wrong-secret00").ListBuckets(t.Context())
	require.Contains(t, refused, minio.ToErrorResponse(err).Code, "%v", err)

	// Where AWS says InvalidAccessKeyId, single-account versitygw says
	// XAdminUserNotFound (see doc.go).
	_, err = client(t, s, "AKIAUNKNOWNUNKNOWN00", s.SecretKey()).ListBuckets(t.Context())
	require.Contains(t, append(refused, "XAdminUserNotFound"), minio.ToErrorResponse(err).Code, "%v", err)
}

func TestStopClosesPort(t *testing.T) {
	t.Parallel()
	s := s3server.StartT(t)
	require.NoError(t, s.Stop())
	require.NoError(t, s.Stop(), "Stop is idempotent")

	select {
	case <-s.Done():
	default:
		t.Fatal("Done not closed after Stop")
	}
	_, err := net.DialTimeout("tcp", s.HostPort(), time.Second)
	require.Error(t, err, "port still accepts connections after Stop")
}

func TestTwoServersKeepSeparateData(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dirA, dirB := t.TempDir(), filepath.Join(t.TempDir(), "created", "by", "start")
	a := start(t, s3server.Config{Dir: dirA, AccessKey: "ACCESSKEYFORSERVERA0", SecretKey: "secret-a"})
	b := start(t, s3server.Config{Dir: dirB, Region: "eu-west-1"})
	require.NotEqual(t, a.HostPort(), b.HostPort())
	require.Equal(t, "ACCESSKEYFORSERVERA0", a.AccessKey())

	ca, cb := client(t, a, a.AccessKey(), a.SecretKey()), client(t, b, b.AccessKey(), b.SecretKey())
	require.NoError(t, ca.MakeBucket(ctx, "only-on-a", minio.MakeBucketOptions{Region: a.Region()}))
	require.DirExists(t, filepath.Join(dirA, "only-on-a"), "buckets are sub-directories of Dir")

	buckets, err := cb.ListBuckets(ctx)
	require.NoError(t, err)
	require.Empty(t, buckets)
	entries, err := os.ReadDir(dirB)
	require.NoError(t, err)
	require.Empty(t, entries)
}

func TestFixedPortInUse(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })

	// A fixed address is not retried elsewhere; the error shows why.
	_, err = s3server.Start(t.Context(), s3server.Config{Dir: t.TempDir(), Addr: l.Addr().String()})
	require.ErrorContains(t, err, "address already in use")
}

// TestNoBucketLifecycle pins what doc.go promises: if an upgrade of versitygw
// implements lifecycle configuration, update the package documentation.
func TestNoBucketLifecycle(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := s3server.StartT(t)
	c := client(t, s, s.AccessKey(), s.SecretKey())
	require.NoError(t, c.MakeBucket(ctx, "lifecycle", minio.MakeBucketOptions{Region: s.Region()}))

	cfg := lifecycle.NewConfiguration()
	cfg.Rules = []lifecycle.Rule{{
		ID:         "expire",
		Status:     "Enabled",
		Expiration: lifecycle.Expiration{Days: 1},
	}}
	err := c.SetBucketLifecycle(ctx, "lifecycle", cfg)
	require.Equal(t, "NotImplemented", minio.ToErrorResponse(err).Code, "%v", err)
}

func start(t *testing.T, cfg s3server.Config) *s3server.Server {
	t.Helper()
	s, err := s3server.Start(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Stop()) })
	return s
}

func client(t *testing.T, s *s3server.Server, accessKey, secretKey string) *minio.Client {
	t.Helper()
	c, err := minio.New(s.HostPort(), &minio.Options{
		Creds:        credentials.NewStaticV4(accessKey, secretKey, ""),
		Region:       s.Region(),
		BucketLookup: minio.BucketLookupPath,
	})
	require.NoError(t, err)
	return c
}
