// The reference renderer for the VTL differential corpus: Apache Velocity 1.7 (the version
// AWS runs), with AWS's `$input`, `$util`, `$context` and `$stageVariables` emulated the way
// AWS documents them, Jayway JsonPath on json-smart for `$input.path`/`$input.json`, and
// AWS's one rendering difference: a null or missing reference prints as nothing.
//
// Usage: java -cp ... Runner CORPUS_FILE...   (writes the rendered cases to stdout)
// Every case renders against the same request (see `request()`); the Rust side builds the
// same one in tests/vtl.rs. Output: "### NAME BYTES\n" + BYTES + "\n" per case; a case
// whose rendering throws prints "!error" as its bytes.

import java.io.*;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.util.*;

import org.apache.velocity.VelocityContext;
import org.apache.velocity.app.VelocityEngine;
import org.apache.velocity.app.event.EventCartridge;
import org.apache.velocity.app.event.ReferenceInsertionEventHandler;
import org.apache.commons.lang.StringEscapeUtils;

import com.jayway.jsonpath.JsonPath;
import net.minidev.json.JSONValue;
import net.minidev.json.parser.JSONParser;

public class Runner {
    /** AWS prints a null or missing reference as an empty string. */
    public static class NullAsEmpty implements ReferenceInsertionEventHandler {
        public Object referenceInsert(String reference, Object value) {
            return value == null ? "" : value;
        }
    }

    static Object parse(String json) throws Exception {
        return new JSONParser(JSONParser.MODE_PERMISSIVE).parse(json, JSONValue.defaultReader.DEFAULT_ORDERED);
    }

    public static class Input {
        final String body;
        final Map<String, Object> params;
        Input(String body, Map<String, Object> params) { this.body = body; this.params = params; }
        public String getBody() { return body; }
        public Object path(String p) {
            try {
                String doc = body.isEmpty() ? "{}" : body;
                return JsonPath.parse(doc).read(p);
            } catch (Exception e) {
                return null;
            }
        }
        public String json(String p) { return JSONValue.toJSONString(path(p)); }
        public Map<String, Object> params() { return params; }
        @SuppressWarnings("unchecked")
        public Object params(String name) {
            for (String family : new String[] {"path", "querystring", "header"}) {
                Map<String, Object> m = (Map<String, Object>) params.get(family);
                for (Map.Entry<String, Object> e : m.entrySet()) {
                    boolean same = family.equals("header") ? e.getKey().equalsIgnoreCase(name) : e.getKey().equals(name);
                    if (same) return e.getValue();
                }
            }
            return "";
        }
    }

    public static class Util {
        public String escapeJavaScript(String s) { return StringEscapeUtils.escapeJavaScript(s); }
        public Object parseJson(String s) throws Exception { return parse(s); }
        public String urlEncode(String s) throws Exception { return URLEncoder.encode(s, "UTF-8"); }
        public String urlDecode(String s) throws Exception { return URLDecoder.decode(s, "UTF-8"); }
        public String base64Encode(String s) { return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8)); }
        public String base64Decode(String s) { return new String(Base64.getDecoder().decode(s), StandardCharsets.UTF_8); }
    }

    static Map<String, Object> map(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
        return m;
    }

    static VelocityContext request(String body) {
        VelocityContext c = new VelocityContext();
        Map<String, Object> params = map(
            "path", map("id", "123"),
            "querystring", map("q", "search term", "page", "2"),
            "header", map("Content-Type", "application/json", "X-Trace", "abc"));
        c.put("input", new Input(body, params));
        c.put("util", new Util());
        c.put("stageVariables", map("env", "prod", "table", "orders"));
        c.put("context", map(
            "accountId", "123456789012",
            "apiId", "a1b2c3",
            "httpMethod", "POST",
            "identity", map("sourceIp", "127.0.0.1", "userAgent", "curl/8.0", "apiKey", ""),
            "authorizer", map("principalId", "user-1"),
            "path", "/prod/orders/123",
            "protocol", "HTTP/1.1",
            "requestId", "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "requestTime", "01/Dec/2026:12:00:00 +0000",
            "requestTimeEpoch", 1796126400000L,
            "resourcePath", "/orders/{id}",
            "stage", "prod",
            "requestOverride", map("header", map(), "path", map(), "querystring", map()),
            "responseOverride", map("header", map())));
        return c;
    }

    public static void main(String[] args) throws Exception {
        Properties p = new Properties();
        p.setProperty("runtime.log.logsystem.class", "org.apache.velocity.runtime.log.NullLogChute");
        p.setProperty("directive.foreach.maxloops", "1000");
        VelocityEngine ve = new VelocityEngine(p);
        ve.init();
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), false, "UTF-8");
        for (String file : args) {
            for (String[] c : cases(new String(Files.readAllBytes(Paths.get(file)), StandardCharsets.UTF_8))) {
                VelocityContext ctx = request(c[1]);
                EventCartridge ec = new EventCartridge();
                ec.addEventHandler(new NullAsEmpty());
                ec.attachToContext(ctx);
                StringWriter w = new StringWriter();
                String result;
                try {
                    ve.evaluate(ctx, w, c[0], c[2]);
                    result = w.toString();
                } catch (Exception e) {
                    result = "!error";
                }
                byte[] bytes = result.getBytes(StandardCharsets.UTF_8);
                out.print("### " + c[0] + " " + bytes.length + "\n");
                out.write(bytes);
                out.print("\n");
            }
        }
        out.flush();
    }

    static final String DEFAULT_BODY = "{\"name\":\"Bob\",\"email\":\"bob@example.com\",\"age\":42,\"price\":9.99,"
        + "\"active\":true,\"tags\":[\"a\",\"b\"],\"address\":{\"city\":\"Paris\",\"zip\":\"75001\"},"
        + "\"items\":[{\"id\":1,\"qty\":2},{\"id\":2,\"qty\":5}],\"nothing\":null}";

    /** The corpus format: "### name" starts a case; optional "body: ..." lines (one line,
     *  "body:" alone for an empty body) come before "---"; the template is every line after "---"
     *  up to the next "### ", without its last newline. */
    static List<String[]> cases(String text) {
        List<String[]> out = new ArrayList<>();
        String[] lines = text.split("\n", -1);
        int i = 0;
        while (i < lines.length) {
            if (!lines[i].startsWith("### ")) { i++; continue; }
            String name = lines[i].substring(4).trim();
            String body = DEFAULT_BODY;
            i++;
            while (i < lines.length && !lines[i].equals("---")) {
                if (lines[i].startsWith("body:")) body = lines[i].substring(5).trim();
                i++;
            }
            i++;
            StringBuilder t = new StringBuilder();
            boolean first = true;
            while (i < lines.length && !lines[i].startsWith("### ")) {
                if (!first) t.append('\n');
                t.append(lines[i]);
                first = false;
                i++;
            }
            out.add(new String[] {name, body, t.toString()});
        }
        return out;
    }
}
