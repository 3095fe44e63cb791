package api

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/savvysolve/api/graph"
	"github.com/savvysolve/api/internal/apperr"
)

// The two media types of a GraphQL-over-HTTP response.
const (
	mediaJSON            = "application/json"
	mediaGraphQLResponse = "application/graphql-response+json"
)

// httpTransport serves GraphQL over plain HTTP (GET and POST) as the
// GraphQL-over-HTTP specification asks, where gqlgen's own GET and POST
// transports do not:
//
//   - A request that is not a GraphQL request (a body that is not a JSON
//     object, a parameter of the wrong type, no query) answers 400, whatever
//     the Accept header.
//   - A request error (parse, validation, variable coercion, and the guard's,
//     the complexity limit's and the rate limit's refusals: the operation
//     never ran) answers without a `data` entry. Under
//     application/graphql-response+json its status is 400; under
//     application/json it is 200. Either way a refusal that has its own
//     status keeps it (405 for a mutation over GET, 400 for a subscription,
//     429 past the rate limit, set through setReply), and a complexity
//     refusal answers 422 under application/json.
//   - The response's media type is the Accept header's preferred supported
//     one (q-values honoured); without one, application/json.
//
// plainHTTP has already checked the method, the content type, the body's
// size and the GET parameters' syntax; the guard refuses mutations over GET
// and subscriptions over HTTP.
type httpTransport struct{}

var _ graphql.Transport = httpTransport{}

func (httpTransport) Supports(r *http.Request) bool {
	return r.Header.Get("Upgrade") == "" && (r.Method == http.MethodGet || r.Method == http.MethodPost)
}

func (httpTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	media := responseMedia(r.Header.Values("Accept"))
	w.Header().Set("Content-Type", media)
	start := graphql.Now()
	params, bad := requestParams(r)
	if bad != nil {
		w.WriteHeader(http.StatusBadRequest)
		writeResponse(w, exec.DispatchError(ctx, gqlerror.List{bad}), false)
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}

	op, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		w.WriteHeader(requestErrorStatus(media, errs))
		writeResponse(w, exec.DispatchError(graphql.WithOperationContext(ctx, op), errs), false)
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, op)
	resp := responses(ctx)
	writeResponse(w, resp, true)
	if resp != nil {
		graph.Release(resp.Data) // written: its buffer serves the next answer
	}
}

// requestErrorStatus is the status of a request error (see httpTransport);
// setReply may still replace it.
func requestErrorStatus(media string, errs gqlerror.List) int {
	if media == mediaGraphQLResponse {
		return http.StatusBadRequest
	}
	for _, e := range errs {
		if c, _ := e.Extensions["code"].(string); c == string(apperr.TooComplex) {
			return http.StatusUnprocessableEntity
		}
	}
	return http.StatusOK
}

// writeResponse writes resp as JSON, with its `data` entry only when the
// operation was executed (GraphQL: an error raised before execution begins
// leaves no data entry). The data is written as the generated code
// marshalled it: json.Marshal would scan and compact the whole document again
// (a tenth of a large query's CPU), and it is compact JSON already.
func writeResponse(w io.Writer, resp *graphql.Response, executed bool) {
	if resp == nil {
		resp = &graphql.Response{} // the operation's context ended first
	}
	if resp.Label != "" || resp.Path != nil || resp.HasNext != nil {
		writeJSON(w, resp) // an incremental payload: rare, keep the library's shape
		return
	}
	io.WriteString(w, "{")
	if len(resp.Errors) > 0 {
		io.WriteString(w, `"errors":`)
		w.Write(mustMarshal(resp.Errors))
		if executed || len(resp.Extensions) > 0 {
			io.WriteString(w, ",")
		}
	}
	if executed {
		io.WriteString(w, `"data":`)
		if len(resp.Data) == 0 {
			io.WriteString(w, "null")
		} else {
			w.Write(resp.Data)
		}
		if len(resp.Extensions) > 0 {
			io.WriteString(w, ",")
		}
	}
	if len(resp.Extensions) > 0 {
		io.WriteString(w, `"extensions":`)
		w.Write(mustMarshal(resp.Extensions))
	}
	io.WriteString(w, "}")
}

func writeJSON(w io.Writer, v any) { w.Write(mustMarshal(v)) }

func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Errors and extensions are the server's own values; an error here is a bug.
		panic("api: the response cannot be marshalled: " + err.Error())
	}
	return b
}

// responseMedia picks the response's media type from the Accept headers: the
// supported type with the highest q (the first listed on a tie; */* and
// application/* mean application/json). With no supported type, or no
// header, it is application/json, the specification's default.
func responseMedia(accept []string) string {
	best, bestQ := mediaJSON, 0.0
	for _, h := range accept {
		for part := range strings.SplitSeq(h, ",") {
			mt, ps, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			q := 1.0
			if s, ok := ps["q"]; ok {
				if q, err = strconv.ParseFloat(s, 64); err != nil {
					continue
				}
			}
			switch mt {
			case "*/*", "application/*":
				mt = mediaJSON
			case mediaJSON, mediaGraphQLResponse:
			default:
				continue
			}
			if q > bestQ {
				best, bestQ = mt, q
			}
		}
	}
	return best
}

// requestParams reads a GET request's parameters or a POST request's JSON
// body. An error says what is not a GraphQL request about it, without
// quoting the body (it may carry a token).
func requestParams(r *http.Request) (*graphql.RawParams, *gqlerror.Error) {
	p := &graphql.RawParams{}
	if r.Method == http.MethodGet {
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			return nil, refusal(apperr.BadUserInput, "", nil, "the query string is malformed")
		}
		p.Query, p.OperationName = q.Get("query"), q.Get("operationName")
		for _, m := range objectParams(p) {
			if s := q.Get(m.name); s != "" && decodeParam([]byte(s), m.dst) != nil {
				return nil, refusal(apperr.BadUserInput, m.name, nil, "%s must be a JSON object", m.name)
			}
		}
		return p, missingQuery(p)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, refusal(apperr.BadUserInput, "", nil, "the request body could not be read")
	}
	var fields map[string]json.RawMessage
	if err := decodeParam(body, &fields); err != nil || fields == nil {
		return nil, refusal(apperr.BadUserInput, "", nil, "the request body is not a GraphQL request in JSON (an object with a query)")
	}
	for _, s := range []struct {
		name string
		dst  *string
	}{{"query", &p.Query}, {"operationName", &p.OperationName}} {
		if v, ok := fields[s.name]; ok && decodeParam(v, s.dst) != nil {
			return nil, refusal(apperr.BadUserInput, s.name, nil, "%s must be a string", s.name)
		}
	}
	for _, m := range objectParams(p) {
		if v, ok := fields[m.name]; ok && decodeParam(v, m.dst) != nil {
			return nil, refusal(apperr.BadUserInput, m.name, nil, "%s must be a JSON object", m.name)
		}
	}
	return p, missingQuery(p)
}

type objectParam struct {
	name string
	dst  *map[string]any
}

// objectParams are the parameters that are JSON objects (or null).
func objectParams(p *graphql.RawParams) []objectParam {
	return []objectParam{{"variables", &p.Variables}, {"extensions", &p.Extensions}}
}

// decodeParam decodes one JSON value into dst (numbers kept as json.Number,
// as gqlgen's transports do); null leaves dst as it is. Anything after the
// value is an error.
func decodeParam[T any](raw []byte, dst *T) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(dst); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errTrailing
	}
	return nil
}

var errTrailing = apperr.New(apperr.BadUserInput, "unexpected data after the JSON value")

// missingQuery refuses a request with no query, unless it names a persisted
// query (APQ sends the hash alone).
func missingQuery(p *graphql.RawParams) *gqlerror.Error {
	if p.Query != "" {
		return nil
	}
	if _, ok := p.Extensions["persistedQuery"]; ok {
		return nil
	}
	return refusal(apperr.BadUserInput, "query", nil, "the request has no query")
}
