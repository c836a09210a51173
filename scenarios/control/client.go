package control

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"syscall"

	"github.com/icmpgw/icmpgw/scenarios"
)

// Client calls the control API of a running lab.
type Client struct {
	path string
	http *http.Client
}

// NewClient returns a client for the lab listening at socket path.
func NewClient(path string) *Client {
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}
	return &Client{path: path, http: &http.Client{Transport: &http.Transport{DialContext: dial}}}
}

// Get decodes the JSON at API path p into v.
func (c *Client) Get(ctx context.Context, p string, v any) error {
	resp, err := c.do(ctx, http.MethodGet, p, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

// Change applies one change, written as a timeline event without "at",
// and returns what was applied.
func (c *Client) Change(ctx context.Context, change string) (string, error) {
	resp, err := c.do(ctx, http.MethodPost, "/v1/changes", bytes.NewBufferString(change))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var ok map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&ok); err != nil {
		return "", err
	}
	return ok["applied"], nil
}

// Events calls fn for each of the recent records of the lab's event log
// and, with follow, for every new one until ctx ends or the lab stops.
func (c *Client) Events(ctx context.Context, follow bool, fn func(scenarios.Record)) error {
	path := "/v1/events"
	if follow {
		path += "?follow=true"
	}
	resp, err := c.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var r scenarios.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return fmt.Errorf("event stream: %w", err)
		}
		fn(r)
	}
	if ctx.Err() != nil {
		return nil
	}
	return sc.Err()
}

func (c *Client) do(ctx context.Context, method, p string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://icmpgw"+p, body)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("no lab is listening at %s (is icmpgw up running with this --prefix?)", c.path)
		}
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		var e Error
		if json.NewDecoder(resp.Body).Decode(&e) != nil || e.Error == "" {
			e.Error = resp.Status
		}
		return nil, errors.New(e.Error)
	}
	return resp, nil
}
