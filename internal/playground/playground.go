// Package playground serves the GraphiQL Playground of gqlgen
// (github.com/99designs/gqlgen/graphql/playground) without any CDN: the
// scripts and styles it loads (graphiql, react, react-dom and
// @graphiql/plugin-explorer) are embedded in the binary and served by Assets.
//
// The files under assets/ are vendored by scripts/playground-assets.sh, which
// pins the versions gqlgen's defaults name; assets/VERSIONS lists them.
//
// Typical wiring:
//
//	mux.Handle("GET /{$}", playground.Handler("API", "/graphql", playground.Options{}))
//	mux.Handle("GET /playground/", http.StripPrefix("/playground/", playground.Assets()))
package playground

import (
	"bytes"
	"crypto/sha512"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	gqlplayground "github.com/99designs/gqlgen/graphql/playground"
)

// DefaultAssetPrefix is the URL path under which the page expects Assets to be
// mounted when Options.AssetPrefix is empty.
const DefaultAssetPrefix = "/playground/"

// Paths of the vendored files, relative to assets/ (and to the asset prefix).
// Listing them in go:embed makes a missing file a compile error.
const (
	fileReact       = "react/react.production.min.js"
	fileReactDOM    = "react-dom/react-dom.production.min.js"
	fileGraphiQLJS  = "graphiql/graphiql.min.js"
	fileGraphiQLCSS = "graphiql/graphiql.min.css"
	fileExplorerJS  = "plugin-explorer/index.umd.js"
	fileExplorerCSS = "plugin-explorer/style.css"
	fileVersions    = "VERSIONS"
)

//go:embed assets/react/react.production.min.js
//go:embed assets/react-dom/react-dom.production.min.js
//go:embed assets/graphiql/graphiql.min.js assets/graphiql/graphiql.min.css
//go:embed assets/plugin-explorer/index.umd.js assets/plugin-explorer/style.css
//go:embed assets/VERSIONS
var embedded embed.FS

// Options configures the Playground page.
type Options struct {
	// Headers are the initial request headers shown in the headers editor,
	// e.g. a development Authorization header. May be empty.
	Headers map[string]string

	// HeaderSets are optional named, ready-made header sets (e.g. one per
	// seeded user). When non-empty the page shows a small "Headers" select in
	// its bottom-right corner; choosing a set replaces the content of the
	// headers editor with it.
	HeaderSets map[string]map[string]string

	// AssetPrefix is the URL path where Assets is mounted; it defaults to
	// DefaultAssetPrefix ("/playground/").
	AssetPrefix string
}

// asset is one embedded file, ready to serve.
type asset struct {
	name        string
	body        []byte
	contentType string
	integrity   string // SRI value, "sha384-…"
	etag        string
}

// assets are read and hashed on first use, not at package initialisation:
// hashing the 2 MB takes 10-20 ms, which a server starting up (and one that
// never serves the Playground) should not spend before it is ready.
var assets = sync.OnceValue(loadAssets)

func loadAssets() map[string]*asset {
	m := map[string]*asset{}
	err := fs.WalkDir(embedded, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := embedded.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha512.Sum384(body)
		name := strings.TrimPrefix(p, "assets/")
		m[name] = &asset{
			name:        name,
			body:        body,
			contentType: contentType(name),
			integrity:   "sha384-" + base64.StdEncoding.EncodeToString(sum[:]),
			etag:        `"` + hex.EncodeToString(sum[:12]) + `"`,
		}
		return nil
	})
	if err != nil {
		panic("playground: reading embedded assets: " + err.Error())
	}
	return m
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	default:
		return "text/plain; charset=utf-8"
	}
}

// Assets serves the embedded Playground files. Mount it with the prefix
// stripped, e.g. http.StripPrefix("/playground/", playground.Assets()).
// The page references each file with a content hash in its query string, so
// responses are cached for a year as immutable.
func Assets() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
			return
		}
		a, ok := assets()[strings.TrimPrefix(r.URL.Path, "/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("ETag", a.etag)
		if a.name == fileVersions {
			h.Set("Cache-Control", "no-cache")
		} else {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		}
		http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(a.body))
	})
}

// Handler returns the Playground page for endpoint (e.g. "/graphql"), whose
// scripts and styles load from opts.AssetPrefix (default "/playground/"),
// where Assets must be mounted. The page is gqlgen's GraphiQL page with the
// explorer plugin enabled, every CDN URL replaced by a local one (with
// sha384 subresource integrity), and opts.Headers in the headers editor.
func Handler(title, endpoint string, opts Options) http.Handler {
	prefix := opts.AssetPrefix
	if prefix == "" {
		prefix = DefaultAssetPrefix
	}
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	// The page depends only on the options: render it once, when first
	// asked for (it names the assets by their hashes).
	page := sync.OnceValue(func() []byte { return render(title, endpoint, prefix, opts) })

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		http.ServeContent(w, r, "index.html", time.Time{}, bytes.NewReader(page()))
	})
}

// render returns gqlgen's page with the local assets and opts' headers.
func render(title, endpoint, prefix string, opts Options) []byte {
	all := assets()
	url := func(name string) string {
		return prefix + name + "?v=" + strings.Trim(all[name].etag, `"`)
	}
	sri := func(name string) string { return all[name].integrity }

	gql := gqlplayground.Handler(title, endpoint,
		gqlplayground.WithGraphiqlReactVersion(
			url(fileReact), url(fileReactDOM), sri(fileReact), sri(fileReactDOM)),
		gqlplayground.WithGraphiqlVersion(
			url(fileGraphiQLJS), url(fileGraphiQLCSS), sri(fileGraphiQLJS), sri(fileGraphiQLCSS)),
		gqlplayground.WithGraphiqlPluginExplorerVersion(
			url(fileExplorerJS), url(fileExplorerCSS), sri(fileExplorerJS), sri(fileExplorerCSS)),
		gqlplayground.WithGraphiqlEnablePluginExplorer(true),
		gqlplayground.WithGraphiqlUiHeaders(opts.Headers),
	)
	req, err := http.NewRequest(http.MethodGet, "/", nil)
	if err != nil {
		panic(err) // a constant, valid request
	}
	rec := &recorder{header: http.Header{}}
	gql.ServeHTTP(rec, req)
	page := rec.body.Bytes()
	if len(opts.HeaderSets) > 0 {
		page = injectHeaderSets(page, opts.HeaderSets)
	}
	return page
}

// recorder captures the page gqlgen's handler writes.
type recorder struct {
	header http.Header
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(int)             {}

type headerSet struct {
	Name    string
	Headers string // pretty JSON, as GraphiQL's headers editor shows it
}

// headerSetsSnippet is a small select, added before </body>, that puts the
// chosen header set into GraphiQL's headers editor. GraphiQL keeps one
// CodeMirror editor per tool in section.graphiql-editor-tool: the variables
// editor first, then the headers editor. Parsed on first use, like the assets.
var headerSetsSnippet = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("headerSets").Parse(`
    <div id="pg-header-sets" style="position:fixed;right:12px;bottom:12px;z-index:100;font:12px sans-serif;background:rgba(255,255,255,.9);border:1px solid #ccc;border-radius:6px;padding:4px 6px">
      <label>Headers <select id="pg-header-set">
        <option value="">choose a set…</option>
{{- range $i, $s := .}}
        <option value="{{$i}}">{{$s.Name}}</option>
{{- end}}
      </select></label>
    </div>
    <script>
      (function () {
        const sets = [{{range .}}{{.Headers}}, {{end}}];
        const select = document.getElementById('pg-header-set');
        select.addEventListener('change', function () {
          if (select.value === '') return;
          const text = sets[Number(select.value)];
          select.value = '';
          const tool = document.querySelector('.graphiql-editor-tool');
          const editors = tool ? tool.querySelectorAll(':scope > .graphiql-editor') : [];
          const cm = editors.length > 1 && editors[1].querySelector('.CodeMirror');
          if (cm && cm.CodeMirror) {
            cm.CodeMirror.setValue(text);
          } else {
            window.prompt('Copy these headers into the Headers editor:', text);
          }
        });
      })();
    </script>
`))
})

func injectHeaderSets(page []byte, sets map[string]map[string]string) []byte {
	names := make([]string, 0, len(sets))
	for n := range sets {
		names = append(names, n)
	}
	sort.Strings(names)
	data := make([]headerSet, 0, len(names))
	for _, n := range names {
		data = append(data, headerSet{Name: n, Headers: prettyJSON(sets[n])})
	}
	var snippet bytes.Buffer
	if err := headerSetsSnippet().Execute(&snippet, data); err != nil {
		panic(fmt.Sprintf("playground: rendering header sets: %v", err))
	}
	i := bytes.LastIndex(page, []byte("</body>"))
	if i < 0 {
		return append(page, snippet.Bytes()...)
	}
	out := make([]byte, 0, len(page)+snippet.Len())
	out = append(out, page[:i]...)
	out = append(out, snippet.Bytes()...)
	return append(out, page[i:]...)
}

// prettyJSON formats headers like GraphiQL does (JSON.stringify(h, null, 2)).
func prettyJSON(h map[string]string) string {
	if h == nil {
		h = map[string]string{}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(h); err != nil {
		panic(err) // a map[string]string always encodes
	}
	return strings.TrimSuffix(b.String(), "\n")
}
