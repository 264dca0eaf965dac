package config

import (
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/meeboter/meeboter/pkg/webhook"
)

// S3 configures where recordings go. Bots never see any of it: they get
// presigned URLs for one key.
type S3 struct {
	// Endpoint is the S3 server as the controller reaches it; it may be a
	// bare host:port (https assumed) or an http(s) URL.
	Endpoint  string
	AccessKey string
	SecretKey string
	Bucket    string
	Region    string
	// PublicEndpoint, when set, is the endpoint written into presigned URLs,
	// for when bots and users reach S3 under another name than the
	// controller (a Docker network, say).
	PublicEndpoint string
	// UploadURLTTL and DownloadURLTTL bound the presigned URLs' validity.
	// Uploads default to 15 min: a bot asks just before it uploads, S3
	// checks expiry when an upload starts (a long one started in time
	// completes), and a leaked upload URL is useful for less time.
	UploadURLTTL   time.Duration
	DownloadURLTTL time.Duration
	// RetentionDays, when > 0, expires recordings by a bucket lifecycle rule.
	RetentionDays int
}

// Configured reports whether recordings can be stored.
func (s S3) Configured() bool { return s.Endpoint != "" }

// maxPresignTTL is SigV4's own limit for a presigned URL.
const maxPresignTTL = 7 * 24 * time.Hour

// s3 reads S3_* and, for each unset one, the seed's MINIO_* alias.
func (r *reader) s3() S3 {
	s := S3{
		Endpoint:       r.aliased("S3_ENDPOINT", "MINIO_ENDPOINT", ""),
		AccessKey:      r.aliased("S3_ACCESS_KEY", "MINIO_ACCESS_KEY", ""),
		SecretKey:      r.aliased("S3_SECRET_KEY", "MINIO_SECRET_KEY", ""),
		Bucket:         r.aliased("S3_BUCKET_NAME", "MINIO_BUCKET_NAME", "meeboter-recordings"),
		Region:         r.aliased("S3_REGION", "MINIO_REGION", "us-east-1"),
		PublicEndpoint: r.str("S3_PUBLIC_ENDPOINT", ""),
		UploadURLTTL:   r.dur("RECORDING_UPLOAD_URL_TTL", 15*time.Minute),
		DownloadURLTTL: r.dur("RECORDING_DOWNLOAD_URL_TTL", time.Hour),
		RetentionDays:  r.int("RECORDING_RETENTION_DAYS", 0, 0),
	}
	for name, ttl := range map[string]time.Duration{"RECORDING_UPLOAD_URL_TTL": s.UploadURLTTL, "RECORDING_DOWNLOAD_URL_TTL": s.DownloadURLTTL} {
		if ttl < time.Minute || ttl > maxPresignTTL {
			r.fail(name, "must be between 1m and 168h (SigV4's limit), got %s", ttl)
		}
	}
	for name, v := range map[string]string{"S3_ENDPOINT": s.Endpoint, "S3_PUBLIC_ENDPOINT": s.PublicEndpoint} {
		if v != "" {
			if _, _, err := SplitS3Endpoint(v); err != nil {
				r.fail(name, "%v", err)
			}
		}
	}
	if s.Endpoint != "" && (s.AccessKey == "" || s.SecretKey == "") {
		r.fail("S3_ACCESS_KEY", "S3_ACCESS_KEY and S3_SECRET_KEY (or MINIO_*) are required with S3_ENDPOINT")
	}
	if s.Endpoint == "" && s.RetentionDays > 0 {
		r.fail("RECORDING_RETENTION_DAYS", "needs S3_ENDPOINT")
	}
	return s
}

// SplitS3Endpoint turns an endpoint into the host:port minio-go wants and
// whether to use TLS: "http://h:9000" is plain, "https://h" and a bare "h"
// use TLS.
func SplitS3Endpoint(v string) (hostPort string, secure bool, err error) {
	if !strings.Contains(v, "://") {
		v = "https://" + v
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.User != nil {
		// The value is not echoed: it may hold credentials.
		return "", false, errors.New("want host[:port] or an http(s) URL without path or credentials")
	}
	return u.Host, u.Scheme == "https", nil
}

// aliased reads name, else alias, else def.
func (r *reader) aliased(name, alias, def string) string {
	if v := r.str(name, ""); v != "" {
		return v
	}
	return r.str(alias, def)
}

// Webhooks configures status webhooks.
type Webhooks struct {
	// URL, when set, receives every bot's status changes (besides each
	// bot's own callback_url).
	URL string
	// Secret signs every delivery (HMAC-SHA256 over timestamp and body).
	Secret string
	// Timeout bounds one delivery attempt.
	Timeout time.Duration
	// RetryWindow is how long a failing delivery is retried.
	RetryWindow time.Duration
	// RetryBase is the first backoff, doubled per attempt up to an hour.
	RetryBase time.Duration
	// Workers is how many deliveries run at once; they have their own
	// River queue, so a slow receiver never holds up reconciles.
	Workers int
	// TenantConcurrency caps one tenant's deliveries in flight per
	// replica (0: a quarter of Workers), so its dead receivers cannot
	// hold every worker; BreakerFailures failures in a row park a receiver
	// for BreakerCooldown (doubling up to 10 min).
	TenantConcurrency int
	BreakerFailures   int
	BreakerCooldown   time.Duration
	// CallbackAllow opens internal networks and names to bots'
	// callback_url (CALLBACK_ALLOW: CIDRs, addresses and host names);
	// public addresses are always allowed.
	CallbackAllow webhook.Destinations
}

func (r *reader) webhooks() Webhooks {
	w := Webhooks{
		URL:         r.str("WEBHOOK_URL", ""),
		Secret:      r.str("WEBHOOK_SECRET", ""),
		Timeout:     r.dur("WEBHOOK_TIMEOUT", 10*time.Second),
		RetryWindow: r.dur("WEBHOOK_RETRY_WINDOW", 24*time.Hour),
		RetryBase:   r.dur("WEBHOOK_RETRY_BASE", 10*time.Second),
		Workers:     r.int("WEBHOOK_WORKERS", 200, 1),

		TenantConcurrency: r.int("WEBHOOK_TENANT_CONCURRENCY", 0, 0),
		BreakerFailures:   r.int("WEBHOOK_BREAKER_FAILURES", 5, 1),
		BreakerCooldown:   r.dur("WEBHOOK_BREAKER_COOLDOWN", 30*time.Second),
	}
	allow, err := webhook.ParseDestinations(r.str("CALLBACK_ALLOW", ""))
	if err != nil {
		r.fail("CALLBACK_ALLOW", "want comma-separated CIDRs, addresses and host names: %v", err)
	}
	w.CallbackAllow = allow
	if w.URL != "" {
		if u, err := url.Parse(w.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			r.fail("WEBHOOK_URL", "want an absolute http(s) URL, got %s", redactURL(w.URL))
		}
	}
	switch {
	case w.Secret != "" && len(w.Secret) < 16:
		r.fail("WEBHOOK_SECRET", "must be at least 16 characters")
	case w.URL != "" && w.Secret == "":
		// Tenants' callbacks are signed with their own secrets; the
		// operator's receiver would get unsigned, forgeable deliveries.
		r.fail("WEBHOOK_SECRET", "is required with WEBHOOK_URL: it signs the deliveries there")
	}
	return w
}
