package io.percpuref.examples.spring;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The shape of {@code docs/grafana/percpu-ref-dashboard.json}: Grafana's shareable export form with
 * a {@code DS_PROMETHEUS} input, the {@code application}, {@code instance} and {@code registry}
 * variables, and every query filtered by all three. (That its queries work and its metrics exist is
 * {@link PrometheusEndToEndTest}'s job.)
 */
class GrafanaDashboardTests {

    private static GrafanaDashboard dashboard;

    @BeforeAll
    static void load() throws Exception {
        dashboard = GrafanaDashboard.load(GrafanaDashboard.path());
    }

    @Test
    void isInShareableExportFormWithAPrometheusInput() {
        JsonNode json = dashboard.json();
        assertThat(json.path("__inputs").get(0).path("name").asString()).isEqualTo("DS_PROMETHEUS");
        assertThat(json.path("__inputs").get(0).path("pluginId").asString()).isEqualTo("prometheus");
        List<String> required = new ArrayList<>();
        json.path("__requires").forEach(r -> required.add(r.path("id").asString()));
        assertThat(required).contains("grafana", "prometheus", "timeseries", "stat");
        assertThat(json.path("id").isNull()).isTrue();
        assertThat(json.path("uid").asString()).isEqualTo("percpu-ref");
        for (JsonNode panel : dashboard.panels()) {
            assertThat(panel.path("datasource").path("uid").asString()).as(panel.path("title").asString())
                    .isEqualTo("${DS_PROMETHEUS}");
            panel.path("targets").forEach(target -> assertThat(target.path("datasource").path("uid").asString())
                    .isEqualTo("${DS_PROMETHEUS}"));
        }
    }

    @Test
    void hasApplicationInstanceAndRegistryVariablesFromLabelValues() {
        JsonNode variables = dashboard.json().path("templating").path("list");
        assertThat(variables.get(0).path("name").asString()).isEqualTo("application");
        assertThat(variables.get(1).path("name").asString()).isEqualTo("instance");
        assertThat(variables.get(2).path("name").asString()).isEqualTo("registry");
        assertThat(dashboard.variableQueries()).containsExactly("label_values(percpu_refs, application)",
                "label_values(percpu_refs{application=\"$application\"}, instance)",
                "label_values(percpu_refs{application=\"$application\", instance=~\"$instance\"}, registry)");
    }

    @Test
    void everySelectorIsFilteredByApplicationInstanceAndRegistry() {
        assertThat(dashboard.targets()).hasSizeGreaterThanOrEqualTo(12);
        for (GrafanaDashboard.Target target : dashboard.targets()) {
            String expr = target.expr();
            for (String metric : GrafanaDashboard.metricNames(expr)) {
                Matcher use = Pattern.compile("(?<![\\w:])" + Pattern.quote(metric) + "(?![\\w:])(.?)").matcher(expr);
                while (use.find()) {
                    assertThat(use.group(1)).as("%s: %s has label matchers in %s", target.panelTitle(), metric, expr)
                            .isEqualTo("{");
                }
            }
            Matcher selector = GrafanaDashboard.SELECTOR.matcher(expr);
            while (selector.find()) {
                assertThat(selector.group(1)).as("%s: %s", target.panelTitle(), expr)
                        .contains("application=\"$application\"").contains("instance=~\"$instance\"")
                        .contains("registry=~\"$registry\"");
            }
        }
    }

    @Test
    void chartsTheLifecycleMetersAndTheGuardedCalls() {
        assertThat(dashboard.metricNames()).containsExactlyInAnyOrder("percpu_refs", "percpu_refs_stuck",
                "percpu_refs_kills_total", "percpu_refs_releases_total", "percpu_refs_rejections_total",
                "percpu_refs_leaks_total", "percpu_refs_drain_latency_seconds_bucket",
                "percpu_refs_drain_latency_seconds_sum", "percpu_refs_drain_latency_seconds_count",
                "percpu_refs_drain_latency_seconds_max", "percpu_refs_confirm_latency_seconds_bucket",
                "percpu_refs_confirm_latency_seconds_sum", "percpu_refs_confirm_latency_seconds_count",
                "percpu_refs_confirm_latency_seconds_max", "percpu_refs_in_flight", "percpu_guarded_call_seconds_count");
    }

    @Test
    void guardedCallsPanelShowsEachResourceAndOutcome() {
        assertThat(dashboard.targets()).filteredOn(t -> t.panelTitle().equals("Guarded calls by resource and outcome"))
                .singleElement().satisfies(t -> assertThat(t.expr()).startsWith("sum by (resource, outcome) (rate("
                        + "percpu_guarded_call_seconds_count{"));
    }

    @Test
    void metricNamesIgnoreFunctionsLabelsRangesAndGrouping() {
        assertThat(GrafanaDashboard.metricNames("histogram_quantile(0.99, sum by (le, instance) "
                + "(rate(a_bucket{job=\"x\", le=~\"1.*\"}[$__rate_interval]))) / on (instance) b_total offset 5m"))
                .containsExactlyInAnyOrder("a_bucket", "b_total");
        assertThat(GrafanaDashboard.metricNames("sum(c) > bool 3")).containsExactly("c");
    }

    @Test
    void substituteReplacesTheLongestVariableNamesFirst() {
        assertThat(GrafanaDashboard.substitute("rate(x{a=\"$application\"}[$__rate_interval]) [${__range}]",
                Map.of("application", "demo", "__rate_interval", "4s", "__range", "60s")))
                .isEqualTo("rate(x{a=\"demo\"}[4s]) [60s]");
    }
}
