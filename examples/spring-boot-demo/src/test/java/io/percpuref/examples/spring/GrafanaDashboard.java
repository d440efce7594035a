package io.percpuref.examples.spring;

import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The Grafana dashboard JSON ({@code docs/grafana/percpu-ref-dashboard.json}) as the tests read it:
 * its panels' queries, its variables' queries, and the metric names they use.
 */
final class GrafanaDashboard {

    /** The dashboard the tests check; the build passes its path as the system property {@code dashboard.json}. */
    static Path path() {
        return Path.of(System.getProperty("dashboard.json", "../../docs/grafana/percpu-ref-dashboard.json"));
    }

    /** One query of one panel. */
    record Target(int panelId, String panelTitle, String panelType, String refId, String expr, String legendFormat) {
    }

    private static final JsonMapper JSON = JsonMapper.builder().build();

    private static final Set<String> KEYWORDS = Set.of("by", "without", "on", "ignoring", "group_left",
            "group_right", "bool", "and", "or", "unless", "offset", "inf", "nan");
    private static final Pattern STRING = Pattern.compile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'");
    private static final Pattern MATCHERS = Pattern.compile("\\{[^}]*}");
    private static final Pattern RANGE = Pattern.compile("\\[[^]]*]");
    private static final Pattern GROUPING = Pattern.compile("\\b(?:by|without|on|ignoring|group_left|group_right)\\s*\\([^)]*\\)");
    private static final Pattern IDENTIFIER = Pattern.compile("(?<![\\w.$])[a-zA-Z_:][a-zA-Z0-9_:]*");
    private static final Pattern LABEL_VALUES = Pattern.compile("label_values\\(\\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\\s*[{,]");
    /** A label matcher block, for checking the filters of every selector. */
    static final Pattern SELECTOR = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:]*\\{([^}]*)}");

    private final JsonNode json;

    private GrafanaDashboard(JsonNode json) {
        this.json = json;
    }

    static GrafanaDashboard load(Path file) throws IOException {
        return new GrafanaDashboard(JSON.readTree(Files.readString(file)));
    }

    JsonNode json() {
        return this.json;
    }

    /** The panels, in the file's order. */
    List<JsonNode> panels() {
        List<JsonNode> panels = new ArrayList<>();
        this.json.path("panels").forEach(panels::add);
        return panels;
    }

    /** Every query of every panel. */
    List<Target> targets() {
        List<Target> targets = new ArrayList<>();
        for (JsonNode panel : panels()) {
            for (JsonNode target : panel.path("targets")) {
                targets.add(new Target(panel.path("id").asInt(), panel.path("title").asString(),
                        panel.path("type").asString(), target.path("refId").asString(),
                        target.path("expr").asString(), target.path("legendFormat").asString()));
            }
        }
        return targets;
    }

    /** The templating variables' queries, e.g. {@code label_values(percpu_refs, application)}. */
    List<String> variableQueries() {
        List<String> queries = new ArrayList<>();
        for (JsonNode variable : this.json.path("templating").path("list")) {
            JsonNode query = variable.path("query");
            queries.add(query.isObject() ? query.path("query").asString() : query.asString());
        }
        return queries;
    }

    /** Every metric name the panels' and variables' queries use. */
    Set<String> metricNames() {
        Set<String> names = new TreeSet<>();
        targets().forEach(target -> names.addAll(metricNames(target.expr())));
        for (String query : variableQueries()) {
            Matcher metric = LABEL_VALUES.matcher(query);
            if (metric.find()) {
                names.add(metric.group(1));
            }
        }
        return names;
    }

    /**
     * The metric names in a PromQL expression: the identifiers that remain once strings, label
     * matchers, ranges and grouping clauses are removed, other than function calls and keywords.
     */
    static Set<String> metricNames(String promql) {
        String bare = STRING.matcher(promql).replaceAll("\"\"");
        bare = MATCHERS.matcher(bare).replaceAll("{}");
        bare = RANGE.matcher(bare).replaceAll("");
        bare = GROUPING.matcher(bare).replaceAll("");
        Set<String> names = new TreeSet<>();
        Matcher identifier = IDENTIFIER.matcher(bare);
        while (identifier.find()) {
            String name = identifier.group();
            String rest = bare.substring(identifier.end()).stripLeading();
            if (!rest.startsWith("(") && !KEYWORDS.contains(name.toLowerCase())) {
                names.add(name);
            }
        }
        return names;
    }

    /**
     * {@code expr} with Grafana's variables replaced: {@code $name} and {@code ${name}} from
     * {@code values} (longest names first, so that {@code $__rate_interval} is not read as
     * {@code $__rate}).
     */
    static String substitute(String expr, Map<String, String> values) {
        String result = expr;
        List<String> names = new ArrayList<>(values.keySet());
        names.sort((a, b) -> b.length() - a.length());
        for (String name : names) {
            result = result.replace("${" + name + "}", values.get(name)).replace("$" + name, values.get(name));
        }
        return result;
    }
}
