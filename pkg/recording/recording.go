package recording

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/lifecycle"

	"github.com/meeboter/meeboter/pkg/config"
)

// ErrNotFound is an object that does not exist.
var ErrNotFound = errors.New("recording: object not found")

// Storage is the recordings bucket.
type Storage struct {
	cfg config.S3
	// client talks to S3; presigner only signs URLs, with the endpoint bots
	// and users reach (S3_PUBLIC_ENDPOINT, else the same).
	client    *minio.Client
	presigner *minio.Client
	now       func() time.Time
}

// New returns the bucket of cfg. It does not touch the network.
func New(cfg config.S3) (*Storage, error) {
	if !cfg.Configured() {
		return nil, errors.New("recording: S3_ENDPOINT is not set")
	}
	client, err := newClient(cfg, cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	presigner := client
	if cfg.PublicEndpoint != "" {
		if presigner, err = newClient(cfg, cfg.PublicEndpoint); err != nil {
			return nil, err
		}
	}
	return &Storage{cfg: cfg, client: client, presigner: presigner, now: time.Now}, nil
}

func newClient(cfg config.S3, endpoint string) (*minio.Client, error) {
	hostPort, secure, err := config.SplitS3Endpoint(endpoint)
	if err != nil {
		return nil, err
	}
	c, err := minio.New(hostPort, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:       secure,
		Region:       cfg.Region,
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		return nil, fmt.Errorf("recording: S3 client for %s: %w", hostPort, err)
	}
	return c, nil
}

// Bucket is the bucket's name.
func (s *Storage) Bucket() string { return s.cfg.Bucket }

// EnsureBucket creates the bucket if it is missing and, with a retention
// set, installs the lifecycle rule that expires recordings after it.
func (s *Storage) EnsureBucket(ctx context.Context) error {
	exists, err := s.client.BucketExists(ctx, s.cfg.Bucket)
	if err != nil {
		return fmt.Errorf("recording: check bucket %q at %s: %w", s.cfg.Bucket, s.cfg.Endpoint, err)
	}
	if !exists {
		err := s.client.MakeBucket(ctx, s.cfg.Bucket, minio.MakeBucketOptions{Region: s.cfg.Region})
		var resp minio.ErrorResponse
		// Another replica may have created it in between.
		if err != nil && (!errors.As(err, &resp) || resp.Code != "BucketAlreadyOwnedByYou") {
			return fmt.Errorf("recording: create bucket %q: %w", s.cfg.Bucket, err)
		}
	}
	if s.cfg.RetentionDays > 0 {
		if err := s.client.SetBucketLifecycle(ctx, s.cfg.Bucket, RetentionRule(s.cfg.RetentionDays)); err != nil {
			return fmt.Errorf("recording: RECORDING_RETENTION_DAYS=%d: set the bucket lifecycle rule (does this S3 server support lifecycle configuration?): %w",
				s.cfg.RetentionDays, err)
		}
	}
	return nil
}

// RetentionRule expires everything under bots/ after days.
func RetentionRule(days int) *lifecycle.Configuration {
	cfg := lifecycle.NewConfiguration()
	cfg.Rules = []lifecycle.Rule{{
		ID:         "meeboter-recording-retention",
		Status:     "Enabled",
		RuleFilter: lifecycle.Filter{Prefix: KeyPrefix},
		Expiration: lifecycle.Expiration{Days: lifecycle.ExpirationDays(days)},
	}}
	return cfg
}

// KeyPrefix is where every recording lives.
const KeyPrefix = "bots/"

// Formats are the file extensions a bot may upload, with their media types.
var Formats = map[string]string{
	"mp4": "video/mp4", "webm": "video/webm", "m4a": "audio/mp4", "ogg": "audio/ogg",
}

// DefaultFormat is what a bot records to unless it says otherwise: the
// original bots wrote WebM on Teams and MP4 elsewhere.
func DefaultFormat(meetingPlatform, mode string) string {
	switch {
	case mode == "audio":
		return "m4a"
	case meetingPlatform == "microsoft-teams":
		return "webm"
	}
	return "mp4"
}

// ContentType is the media type of a recording key, from its extension.
func ContentType(key string) string {
	return Formats[strings.TrimPrefix(path.Ext(key), ".")]
}

// UploadKey is the one key an attempt of a bot may write. Users never read
// it: complete seals a copy of it (SealedKey), which no URL can write.
func UploadKey(botID uuid.UUID, attempt int, meetingPlatform, format string) string {
	return KeyPrefix + botID.String() + "/uploads/" + strconv.Itoa(attempt) + "-" + meetingPlatform + "." + format
}

// SealedKey is where Seal copies an attempt's upload: nonce (random per
// seal) makes two concurrent seals write two objects, so the loser cannot
// overwrite the one the winner recorded. The file name stays
// <attempt>-<meeting platform>.<ext>.
func SealedKey(botID uuid.UUID, attempt int, meetingPlatform, format, nonce string) string {
	return KeyPrefix + botID.String() + "/recordings/" + nonce + "/" + strconv.Itoa(attempt) + "-" + meetingPlatform + "." + format
}

var uploadKeyPattern = regexp.MustCompile(`^bots/([0-9a-f-]{36})/uploads/([1-9][0-9]*)-([a-z-]+)\.([a-z0-9]+)$`)

// ParseUploadKey checks that key is UploadKey(botID, attempt,
// meetingPlatform, f) for some known format f, and returns f.
func ParseUploadKey(key string, botID uuid.UUID, attempt int, meetingPlatform string) (string, bool) {
	m := uploadKeyPattern.FindStringSubmatch(key)
	if len(m) != 5 || m[1] != botID.String() || m[2] != strconv.Itoa(attempt) || m[3] != meetingPlatform {
		return "", false
	}
	_, known := Formats[m[4]]
	return m[4], known
}

// Presigned is a URL that grants one operation on one key until Expires.
type Presigned struct {
	URL     string
	Expires time.Time
}

// PresignUpload returns a PUT URL for key, valid for the upload TTL. What
// bounds it: the signature covers the method and key (no other key, no
// read), the TTL (RECORDING_UPLOAD_URL_TTL), and S3's 5 GiB limit on one
// PUT. A presigned PUT cannot carry a size range (only a POST policy's
// content-length-range can, which not every S3 server implements), so
// Seal, not the URL, is what keeps a verified recording from changing.
func (s *Storage) PresignUpload(ctx context.Context, key string) (Presigned, error) {
	ttl := s.cfg.UploadURLTTL
	u, err := s.presigner.PresignedPutObject(ctx, s.cfg.Bucket, key, ttl)
	return s.presigned(u, ttl, err)
}

// PresignDownload returns a GET URL for key, valid for the download TTL,
// that serves it with its media type and as an attachment named after it.
func (s *Storage) PresignDownload(ctx context.Context, key string) (Presigned, error) {
	ttl := s.cfg.DownloadURLTTL
	params := url.Values{}
	params.Set("response-content-disposition", `attachment; filename="`+path.Base(key)+`"`)
	if ct := ContentType(key); ct != "" {
		params.Set("response-content-type", ct)
	}
	u, err := s.presigner.PresignedGetObject(ctx, s.cfg.Bucket, key, ttl, params)
	return s.presigned(u, ttl, err)
}

func (s *Storage) presigned(u *url.URL, ttl time.Duration, err error) (Presigned, error) {
	if err != nil {
		return Presigned{}, fmt.Errorf("recording: presign: %w", err)
	}
	// The URL's own X-Amz-Date is taken at signing; a second early is safe.
	return Presigned{URL: u.String(), Expires: s.now().Add(ttl - time.Second).UTC().Truncate(time.Second)}, nil
}

// Object is what StatObject says of a recording.
type Object struct {
	Key         string
	Size        int64
	ContentType string
	ETag        string
}

// Errors of Seal that are the bot's doing, not the server's.
var (
	// ErrEmpty is an upload of 0 bytes: not a recording.
	ErrEmpty = errors.New("recording: the upload is empty")
	// ErrChanged is an upload overwritten while it was being sealed.
	ErrChanged = errors.New("recording: the upload changed while it was being sealed")
)

// Stat checks that key exists and returns its size; a missing object is
// ErrNotFound.
func (s *Storage) Stat(ctx context.Context, key string) (Object, error) {
	info, err := s.client.StatObject(ctx, s.cfg.Bucket, key, minio.StatObjectOptions{})
	if err != nil {
		var resp minio.ErrorResponse
		if errors.As(err, &resp) && (resp.Code == "NoSuchKey" || resp.StatusCode == http.StatusNotFound) {
			return Object{}, ErrNotFound
		}
		return Object{}, fmt.Errorf("recording: stat %s: %w", key, err)
	}
	return Object{Key: key, Size: info.Size, ContentType: info.ContentType, ETag: info.ETag}, nil
}

// Seal makes a verified upload immutable: it copies uploadKey, server-side,
// to a new SealedKey that no presigned URL can write, and returns that
// copy. The bot's upload URL stays valid until it expires, but whatever it
// writes afterwards lands on uploadKey, which nobody serves. The copy is
// conditional on the ETag seen first, so an upload overwritten meanwhile is
// ErrChanged rather than a mix of two; the copy's own size is what the
// caller records, so the size users see is the size they download.
func (s *Storage) Seal(ctx context.Context, uploadKey string) (Object, error) {
	dir, file := path.Split(uploadKey)
	if !strings.HasSuffix(dir, "/uploads/") {
		return Object{}, fmt.Errorf("recording: %s is not an upload key", uploadKey)
	}
	up, err := s.Stat(ctx, uploadKey)
	switch {
	case err != nil:
		return Object{}, err
	case up.Size == 0:
		return Object{}, ErrEmpty
	}
	sealed := strings.TrimSuffix(dir, "uploads/") + "recordings/" + nonce() + "/" + file
	// ComposeObject, not CopyObject: a single CopyObject stops at 5 GiB,
	// ComposeObject switches to a multipart copy above it. The media type
	// is the format's, not the bot's (servers that keep the source's, like
	// versitygw, are overridden at download by response-content-type).
	_, err = s.client.ComposeObject(ctx,
		minio.CopyDestOptions{Bucket: s.cfg.Bucket, Object: sealed, ReplaceMetadata: true, ContentType: ContentType(file)},
		minio.CopySrcOptions{Bucket: s.cfg.Bucket, Object: uploadKey, MatchETag: up.ETag})
	var resp minio.ErrorResponse
	switch {
	case errors.As(err, &resp) && (resp.StatusCode == http.StatusPreconditionFailed || resp.Code == "PreconditionFailed"):
		return Object{}, ErrChanged
	case errors.As(err, &resp) && (resp.Code == "NoSuchKey" || resp.StatusCode == http.StatusNotFound):
		return Object{}, ErrChanged
	case err != nil:
		return Object{}, fmt.Errorf("recording: copy %s to %s: %w", uploadKey, sealed, err)
	}
	return s.Stat(ctx, sealed)
}

// nonce is 16 random hex digits.
func nonce() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// Remove deletes key; a missing key is no error.
func (s *Storage) Remove(ctx context.Context, key string) error {
	if err := s.client.RemoveObject(ctx, s.cfg.Bucket, key, minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("recording: remove %s: %w", key, err)
	}
	return nil
}

// Ping checks that the bucket is reachable with our credentials.
func (s *Storage) Ping(ctx context.Context) error {
	_, err := s.client.BucketExists(ctx, s.cfg.Bucket)
	return err
}
