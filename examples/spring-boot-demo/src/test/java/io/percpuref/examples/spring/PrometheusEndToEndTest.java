package io.percpuref.examples.spring;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The demo, its meters and the Grafana dashboard against a real Prometheus.
 *
 * <p>Setup (once, about 40 s): the demo application in-process on a random loopback port; the
 * {@code prometheus} binary (Debian package {@code prometheus}; the test fails, it does not skip,
 * when it is missing) on another loopback port, with a temporary storage directory, scraping
 * {@code /actuator/prometheus} every second; the {@link LoadGenerator} for 24 s (slow scans and
 * kills of shards, one slow scan outlasting the 3 s stuck threshold), after one search refused
 * because its index was not built yet and one answered once it was; then one kill through the
 * actuator ({@code POST /actuator/percpurefs/{name}}). Each test then asks Prometheus's HTTP API
 * what it recorded. Everything started is stopped in {@link #stopEverything()}.
 *
 * <p>The last test also evaluates every panel query of the dashboard over the run, writes the
 * results to {@code target/dashboard-data/} and draws them with {@link DashboardPreview} into
 * {@code dashboard.preview.output} (by default {@code target/dashboard-preview.png}).
 */
class PrometheusEndToEndTest {

    private static final String APPLICATION = "percpu-ref-demo";
    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    @TempDir
    static Path work;

    private static ConfigurableApplicationContext app;
    private static PrometheusServer prometheus;
    private static URI demo;
    /** The scrape target as Prometheus labels it ({@code instance}). */
    private static String instance;
    private static LoadGenerator.Summary load;
    private static Instant start;
    private static Instant end;
    /** Live refs just before the actuator kill, and when Prometheus had seen that. */
    private static long liveBeforeKill;
    private static Instant beforeKill;

    @BeforeAll
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    static void runTheDemoUnderLoadWhilePrometheusScrapesIt() throws Exception {
        String configured = System.getProperty("prometheus.binary", "");
        Path binary = PrometheusServer.findBinary().orElseThrow(() -> new AssertionError("the prometheus binary was not "
                + "found (" + (configured.isBlank() ? "PATH, /usr/bin/prometheus" : "-Dprometheus.binary=" + configured)
                + "): run ./build.sh from the repository root, which installs it on Debian or Ubuntu; or install it with `"
                + PrometheusServer.INSTALL_COMMAND + "` (Debian package prometheus); or pass -Dprometheus.binary=/path"));
        app = new SpringApplicationBuilder(DemoApplication.class).run("--server.port=0", "--server.address=127.0.0.1",
                "--spring.main.banner-mode=off", "--percpu-ref.stuck-threshold=3s",
                "--demo.data-dir=" + work.resolve("data"));
        instance = "127.0.0.1:" + app.getEnvironment().getRequiredProperty("local.server.port", Integer.class);
        demo = URI.create("http://" + instance);
        prometheus = PrometheusServer.start(binary, Files.createDirectories(work.resolve("prometheus")), APPLICATION,
                instance, "/actuator/prometheus");
        await("Prometheus scrapes the demo").atMost(Duration.ofSeconds(20))
                .until(() -> value("up{instance=\"" + instance + "\"}") == 1.0);
        // A guarded call refused (the search index is not built yet), the index built, one that succeeds.
        assertThat(get("/search?prefix=key-").statusCode()).isEqualTo(503);
        assertThat(send(HttpRequest.newBuilder(demo.resolve("/search/index")).POST(HttpRequest.BodyPublishers.noBody())
                .build()).statusCode()).isEqualTo(201);
        assertThat(get("/search?prefix=key-").statusCode()).isEqualTo(200);

        start = Instant.now();
        load = new LoadGenerator(demo, new LoadGenerator.Settings(Duration.ofSeconds(24), 20_000, 3,
                Duration.ofMillis(15), Duration.ofMillis(1500), Duration.ofSeconds(2), Duration.ofSeconds(5))).run();
        settle(() -> value(refs("dying")) == 0.0);

        JsonNode refs = JSON.readTree(get("/actuator/percpurefs").body());
        liveBeforeKill = refs.path("live").asLong();
        String victim = null;
        for (JsonNode ref : refs.path("refs")) {
            if (ref.path("name").asString().startsWith("shard-") && "LIVE".equals(ref.path("state").asString())) {
                victim = ref.path("name").asString();
            }
        }
        assertThat(victim).as("a live shard left by the load").isNotNull();
        settle(() -> value(refs("live")) == liveBeforeKill);
        beforeKill = Instant.now();
        HttpResponse<String> kill = send(HttpRequest.newBuilder(demo.resolve("/actuator/percpurefs/" + victim))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString("{}")).build());
        assertThat(kill.body()).contains("\"killed\":true");
        settle(() -> value(refs("live")) == liveBeforeKill - 1
                && value(metric("percpu_refs_releases_total")) == load.shardsKilled() + 1);
        TimeUnit.SECONDS.sleep(2); // two more scrapes of the final state, for the preview
        end = Instant.now();
    }

    @AfterAll
    static void stopEverything() throws Exception {
        try {
            if (prometheus != null) {
                prometheus.close();
            }
        } finally {
            if (app != null) {
                app.close();
            }
        }
    }

    @Test
    void prometheusScrapesTheDemoEverySecond() throws Exception {
        assertThat(value("up{instance=\"" + instance + "\"}")).isEqualTo(1.0);
        assertThat(value("count_over_time(up{instance=\"" + instance + "\"}[20s])")).isGreaterThanOrEqualTo(15);
    }

    @Test
    void liveCountDropsWhenAResourceIsKilledThroughTheActuator() throws Exception {
        assertThat(prometheus.query(refs("live")).get(0).path("metric").path("application").asString()).isEqualTo(APPLICATION);
        assertThat(valueAt(refs("live"), beforeKill)).isEqualTo(liveBeforeKill);
        assertThat(value(refs("live"))).isEqualTo(liveBeforeKill - 1);
    }

    @Test
    void dyingCountRisesWhileKilledShardsDrainThenReturnsToZero() throws Exception {
        assertThat(value("max_over_time(" + refs("dying") + "[" + runSeconds() + "s])")).isGreaterThanOrEqualTo(1);
        assertThat(value(refs("dying"))).isZero();
    }

    @Test
    void stuckCountShowsTheSlowScanThatOutlastedTheThresholdThenClears() throws Exception {
        assertThat(value("max_over_time(" + metric("percpu_refs_stuck") + "[" + runSeconds() + "s])")).isEqualTo(1.0);
        assertThat(value(metric("percpu_refs_stuck"))).isZero();
    }

    @Test
    void killAndReleaseCountersCountEveryKillAndRelease() throws Exception {
        long kills = load.shardsKilled() + 1; // the load's kills and the actuator's
        assertThat(load.shardsKilled()).isGreaterThanOrEqualTo(4);
        assertThat(value(metric("percpu_refs_kills_total"))).isEqualTo(kills);
        assertThat(value(metric("percpu_refs_releases_total"))).isEqualTo(kills);
        assertThat(valueAt(metric("percpu_refs_kills_total"), start)).isZero();
        assertThat(value(metric("percpu_refs_drain_latency_seconds_count"))).isEqualTo(kills);
        assertThat(value(metric("percpu_refs_confirm_latency_seconds_count"))).isEqualTo(kills);
        assertThat(value(metric("percpu_refs_drain_latency_seconds_max"))).isGreaterThanOrEqualTo(2.0);
    }

    @Test
    void everyRefusedRequestIsARejection() throws Exception {
        assertThat(load.refused()).isPositive();
        // plus the search refused before its index was registered: a refusal of a name under
        // which nothing is registered yet counts too
        assertThat(value(metric("percpu_refs_rejections_total"))).isEqualTo(load.refused() + 1);
        assertThat(load.failed()).isZero();
    }

    @Test
    void guardedCallsAreObservedPerResourceAndOutcome() throws Exception {
        assertThat(value(guardedCalls("search", "refused"))).isEqualTo(1.0);
        assertThat(value(guardedCalls("search", "success"))).isEqualTo(1.0);
        assertThat(value(guardedCalls("catalog", "success"))).isGreaterThan(Search.KEYS);
        assertThat(prometheus.query("percpu_guarded_call_seconds_count{application=\"" + APPLICATION + "\", instance=\""
                + instance + "\", resource=\"search\", outcome=\"refused\"}").get(0).path("metric").path("registry")
                .asString()).isEqualTo("default");
    }

    @Test
    void refusalsAreCountedPerShardThatTheCallsArgumentNamed() throws Exception {
        // Shards.get/put: @Guarded(resourceExpression = "#name"), so each refusal is tagged with its shard.
        JsonNode perShard = prometheus.query("sum by (resource) (percpu_guarded_call_seconds_count{application=\""
                + APPLICATION + "\", instance=\"" + instance + "\", outcome=\"refused\"})");
        Map<String, Double> refused = new TreeMap<>();
        for (JsonNode series : perShard) {
            refused.put(series.path("metric").path("resource").asString(),
                    Double.parseDouble(series.path("value").get(1).asString()));
        }
        Map<String, Double> shards = refused.entrySet().stream().filter(e -> e.getKey().startsWith("shard-"))
                .collect(Collectors.toMap(Map.Entry::getKey, Map.Entry::getValue));
        assertThat(shards).as("refused shards").hasSizeGreaterThanOrEqualTo(2);
        // every refusal of the load is a shard's; the only other one is the search before its index
        assertThat(shards.values().stream().mapToDouble(Double::doubleValue).sum()).isEqualTo(load.refused());
        Set<String> refusedResources = new TreeSet<>(shards.keySet());
        refusedResources.add("search");
        assertThat(refused.keySet()).isEqualTo(refusedResources);
        assertThat(value("sum(percpu_guarded_call_seconds_count{application=\"" + APPLICATION + "\", instance=\""
                + instance + "\", resource=~\"shard-.*\", outcome=\"success\"})")).isGreaterThan(0);
    }

    @Test
    void theDashboardsGuardedCallPanelShowsRefusalsPerShard() throws Exception {
        GrafanaDashboard.Target panel = GrafanaDashboard.load(GrafanaDashboard.path()).targets().stream()
                .filter(t -> t.expr().contains("percpu_guarded_call_seconds_count")).findFirst().orElseThrow();
        Map<String, String> variables = Map.of("application", APPLICATION, "instance", instance.replace(".", "\\\\."),
                "registry", "default", "__rate_interval", "4s");
        JsonNode result = prometheus.queryRange(GrafanaDashboard.substitute(panel.expr(), variables), start, end,
                Duration.ofSeconds(1)).path("result");
        Set<String> refusedShards = new TreeSet<>();
        for (JsonNode series : result) {
            String resource = series.path("metric").path("resource").asString();
            boolean nonZero = false;
            for (JsonNode point : series.path("values")) {
                nonZero |= Double.parseDouble(point.get(1).asString()) > 0;
            }
            if (nonZero && resource.startsWith("shard-") && "refused".equals(series.path("metric").path("outcome").asString())) {
                refusedShards.add(resource);
            }
        }
        assertThat(refusedShards).as("shards with refusals in the panel '%s'", panel.panelTitle()).isNotEmpty();
    }

    @Test
    void everyMetricTheDashboardQueriesIsInAScrapeOfTheDemoAndInPrometheus() throws Exception {
        Set<String> used = GrafanaDashboard.load(GrafanaDashboard.path()).metricNames();
        assertThat(used).contains("percpu_refs", "percpu_refs_kills_total", "percpu_refs_in_flight",
                "percpu_refs_drain_latency_seconds_bucket");

        HttpResponse<String> scrape = get("/actuator/prometheus");
        assertThat(scrape.statusCode()).isEqualTo(200);
        Path data = Files.createDirectories(Path.of(System.getProperty("dashboard.data", "target/dashboard-data")));
        Files.writeString(data.resolve("scrape.txt"), scrape.body()); // the scrape, for docs/metrics.md's samples
        Set<String> scraped = Arrays.stream(scrape.body().split("\n"))
                .filter(line -> !line.isBlank() && !line.startsWith("#"))
                .map(line -> line.split("[{ ]", 2)[0]).collect(Collectors.toCollection(TreeSet::new));
        assertThat(scraped).containsAll(used);
        assertThat(prometheus.metricNames()).containsAll(used);
    }

    @Test
    void everyDashboardQueryReturnsDataAndThePreviewIsDrawn() throws Exception {
        GrafanaDashboard dashboard = GrafanaDashboard.load(GrafanaDashboard.path());
        Path data = Files.createDirectories(Path.of(System.getProperty("dashboard.data", "target/dashboard-data")));
        Instant from = start.minusSeconds(5);
        Map<String, String> variables = new LinkedHashMap<>();
        variables.put("application", APPLICATION);
        variables.put("instance", instance.replace(".", "\\\\."));
        variables.put("registry", "default");
        variables.put("__rate_interval", "4s"); // Grafana's value for a 1 s scrape interval
        variables.put("__range", Duration.between(from, end).toSeconds() + "s");
        for (GrafanaDashboard.Target target : dashboard.targets()) {
            String expr = GrafanaDashboard.substitute(target.expr(), variables);
            JsonNode result = prometheus.queryRange(expr, from, end, Duration.ofSeconds(1));
            assertThat(result.path("result").isEmpty()).as("%s / %s: %s", target.panelTitle(), target.refId(), expr).isFalse();
            Files.writeString(data.resolve("panel-" + target.panelId() + "-" + target.refId() + ".json"),
                    JSON.writeValueAsString(result));
        }
        Map<String, Object> meta = new LinkedHashMap<>();
        meta.put("start", from.getEpochSecond());
        meta.put("end", end.getEpochSecond());
        Map<String, String> shown = new LinkedHashMap<>();
        shown.put("application", APPLICATION);
        shown.put("instance", instance);
        shown.put("registry", "default");
        meta.put("variables", shown);
        Files.writeString(data.resolve("meta.json"), JSON.writeValueAsString(meta));

        Path png = Path.of(System.getProperty("dashboard.preview.output", "target/dashboard-preview.png"));
        DashboardPreview.render(GrafanaDashboard.path(), data, png);
        BufferedImage image = ImageIO.read(png.toFile());
        assertThat(image.getWidth()).isEqualTo(1600);
        assertThat(image.getHeight()).isGreaterThan(900);
    }

    // ---------------------------------------------------------------------------------------------

    /** {@code percpu_refs{state=...}} of the demo. */
    private static String refs(String state) {
        return "percpu_refs{application=\"" + APPLICATION + "\", instance=\"" + instance + "\", state=\"" + state + "\"}";
    }

    /** The demo's guarded calls of one resource with one outcome, summed over their series. */
    private static String guardedCalls(String resource, String outcome) {
        return "sum(percpu_guarded_call_seconds_count{application=\"" + APPLICATION + "\", instance=\"" + instance
                + "\", resource=\"" + resource + "\", outcome=\"" + outcome + "\"})";
    }

    /** One series of the demo. */
    private static String metric(String name) {
        return name + "{application=\"" + APPLICATION + "\", instance=\"" + instance + "\"}";
    }

    private static double value(String promql) throws Exception {
        return prometheus.queryValue(promql);
    }

    private static double valueAt(String promql, Instant time) throws Exception {
        return prometheus.queryValueAt(promql, time);
    }

    private static long runSeconds() {
        return Duration.between(start, end).toSeconds() + 1;
    }

    /** Waits up to 15 s for {@code condition}, without failing: the tests check the outcome. */
    private static void settle(Callable<Boolean> condition) throws Exception {
        long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (System.nanoTime() < giveUp && !condition.call()) {
            TimeUnit.MILLISECONDS.sleep(200);
        }
    }

    private static HttpResponse<String> get(String path) throws Exception {
        return send(HttpRequest.newBuilder(demo.resolve(path)).GET().build());
    }

    private static HttpResponse<String> send(HttpRequest request) throws Exception {
        return HTTP.send(request, HttpResponse.BodyHandlers.ofString());
    }
}
