package io.percpuref.examples.spring;

import io.percpuref.registry.Lease;
import io.percpuref.registry.RefRegistry;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.annotation.DirtiesContext;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * The demo over real HTTP (embedded Tomcat on a random port, {@link HttpClient}): the guarded
 * catalog, the shard API, the actuator endpoints and the Prometheus scrape, and the load generator's
 * bounds.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class DemoApplicationTests {

    private static final Pattern NAME = Pattern.compile("\"name\":\"([^\"]+)\"");

    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    @LocalServerPort
    private int port;

    @Autowired
    private Catalog catalog;

    @Autowired
    private RefRegistry registry;

    @Test
    void catalogAnswersSyncAndAsyncRequestsWhileLive() throws Exception {
        assertThat(get("/catalog/key-1").body()).isEqualTo("value-1");
        assertThat(put("/catalog/fresh", "written").statusCode()).isEqualTo(204);
        assertThat(get("/catalog/fresh").body()).isEqualTo("written");
        HttpResponse<String> async = get("/catalog/key-2/async");
        assertThat(async.statusCode()).isEqualTo(200);
        assertThat(async.body()).isEqualTo("value-2");
        assertThat(get("/catalog/missing").statusCode()).isEqualTo(404);
    }

    @Test
    @DirtiesContext(methodMode = DirtiesContext.MethodMode.AFTER_METHOD)
    void searchIsRefusedUntilItsIndexIsBuiltAndEachGuardedCallIsObservedPerResourceAndOutcome() throws Exception {
        assertThat(get("/search?prefix=key-1").statusCode()).isEqualTo(503);
        assertThat(send(request("/search/index").POST(HttpRequest.BodyPublishers.noBody()).build())
                .statusCode()).isEqualTo(201);
        HttpResponse<String> found = get("/search?prefix=key-1");
        assertThat(found.statusCode()).isEqualTo(200);
        assertThat(found.body()).isEqualTo("{\"key-1\":\"value-1\"}");

        String scrape = get("/actuator/prometheus").body();
        assertThat(guardedCalls(scrape, "search", "refused")).isEqualTo(1.0);
        assertThat(guardedCalls(scrape, "search", "success")).isEqualTo(1.0);
        assertThat(guardedCalls(scrape, "catalog", "success")).isGreaterThanOrEqualTo(Search.KEYS);
    }

    /** The value of {@code percpu_guarded_call_seconds_count} for one resource and outcome, summed over its series. */
    private static double guardedCalls(String scrape, String resource, String outcome) {
        return scrape.lines().filter(line -> line.startsWith("percpu_guarded_call_seconds_count{")
                        && line.contains("resource=\"" + resource + "\"") && line.contains("outcome=\"" + outcome + "\""))
                .mapToDouble(line -> Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1))).sum();
    }

    @Test
    @DirtiesContext(methodMode = DirtiesContext.MethodMode.AFTER_METHOD)
    void actuatorKillRefusesNewCatalogCallsWith503AndClosesTheStoreAfterTheLastLease() throws Exception {
        String before = get("/actuator/prometheus").body();
        Lease<?> holder = this.registry.find(Catalog.RESOURCE).orElseThrow().acquire(); // say, a batch job in flight

        HttpResponse<String> kill = send(request("/actuator/percpurefs/" + Catalog.RESOURCE)
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString("{}")).build());
        assertThat(kill.statusCode()).isEqualTo(200);
        assertThat(kill.body()).contains("\"killed\":true").contains("\"state\":\"DYING\"");

        HttpResponse<String> refused = get("/catalog/key-1");
        assertThat(refused.statusCode()).isEqualTo(503);
        assertThat(refused.headers().firstValue("Content-Type")).hasValue("application/problem+json");
        assertThat(refused.body()).contains("\"resource\":\"catalog\"").contains("\"state\":\"DYING\"");
        assertThat(get("/catalog/key-1/async").statusCode()).isEqualTo(503);
        assertThat(put("/catalog/key-1", "late").statusCode()).isEqualTo(503);
        assertThat(this.catalog.store().isClosed()).isFalse();

        assertThat(get("/actuator/percpurefs/" + Catalog.RESOURCE).body()).contains("\"inFlight\":1");
        holder.close();
        await().atMost(Duration.ofSeconds(5)).until(() -> this.catalog.store().isClosed());
        assertThat(this.catalog.store().useAfterClose()).isZero();
        assertThat(Files.exists(this.catalog.store().directory())).isFalse();
        assertThat(get("/actuator/percpurefs/" + Catalog.RESOURCE).statusCode()).isEqualTo(404);

        String after = get("/actuator/prometheus").body();
        assertThat(increase(before, after, "percpu_refs_kills_total")).isEqualTo(1);
        assertThat(increase(before, after, "percpu_refs_releases_total")).isEqualTo(1);
        assertThat(increase(before, after, "percpu_refs_rejections_total")).isEqualTo(3);
        assertThat(increase(before, after, "percpu_refs_drain_latency_seconds_count")).isEqualTo(1);
        assertThat(after).doesNotContain("ref=\"catalog\"");
    }

    @Test
    void prometheusEndpointShowsThePercpuRefMetersWithTheApplicationTag() throws Exception {
        HttpResponse<String> scrape = get("/actuator/prometheus");
        assertThat(scrape.statusCode()).isEqualTo(200);
        assertThat(scrape.body())
                .containsPattern("percpu_refs\\{application=\"percpu-ref-demo\",registry=\"default\",state=\"live\"} [1-9]")
                .contains("percpu_refs{application=\"percpu-ref-demo\",registry=\"default\",state=\"dying\"}")
                .contains("percpu_refs_stuck{application=\"percpu-ref-demo\",registry=\"default\"}")
                .contains("percpu_refs_kills_total{application=\"percpu-ref-demo\",registry=\"default\"}")
                .contains("percpu_refs_releases_total{application=\"percpu-ref-demo\",registry=\"default\"}")
                .contains("percpu_refs_rejections_total{application=\"percpu-ref-demo\",registry=\"default\"}")
                .contains("percpu_refs_leaks_total{application=\"percpu-ref-demo\",registry=\"default\"}")
                .contains("percpu_refs_confirm_latency_seconds_bucket{application=\"percpu-ref-demo\",registry=\"default\",le=")
                .contains("percpu_refs_drain_latency_seconds_bucket{application=\"percpu-ref-demo\",registry=\"default\",le=")
                .contains("percpu_refs_drain_latency_seconds_max{application=\"percpu-ref-demo\",registry=\"default\"}")
                .contains("percpu_refs_in_flight{application=\"percpu-ref-demo\",ref=\"catalog\",registry=\"default\"}");
    }

    @Test
    void shardsAreCreatedUsedAndReleasedAtOnceWhenKilledIdle() throws Exception {
        HttpResponse<String> created = send(request("/shards?name=idle").POST(HttpRequest.BodyPublishers.noBody()).build());
        assertThat(created.statusCode()).isEqualTo(201);
        assertThat(created.body()).contains("\"name\":\"idle\"").contains("\"state\":\"LIVE\"");
        assertThat(put("/shards/idle/k", "v").statusCode()).isEqualTo(204);
        assertThat(get("/shards/idle/k").body()).isEqualTo("v");
        assertThat(get("/actuator/prometheus").body())
                .contains("percpu_refs_in_flight{application=\"percpu-ref-demo\",ref=\"idle\",registry=\"default\"} 0.0");

        HttpResponse<String> killed = send(request("/shards/idle").DELETE().build());
        assertThat(killed.statusCode()).isEqualTo(200);
        await().atMost(Duration.ofSeconds(5)).until(() -> get("/shards/idle").statusCode() == 404);
        assertThat(get("/shards/idle/k").statusCode()).isEqualTo(404);
        assertThat(get("/actuator/prometheus").body()).doesNotContain("ref=\"idle\"");
    }

    @Test
    void aShardKilledDuringASlowScanStaysDyingAndRefusesCallsUntilTheScanEnds() throws Exception {
        String shard = createShard();
        assertThat(put("/shards/" + shard + "/k", "v").statusCode()).isEqualTo(204);
        CompletableFuture<HttpResponse<String>> scan = this.http.sendAsync(
                request("/shards/" + shard + "/k?holdMillis=3000").GET().build(), HttpResponse.BodyHandlers.ofString());
        await().atMost(Duration.ofSeconds(5)).until(() -> get("/shards/" + shard).body().contains("\"inFlight\":1"));

        HttpResponse<String> killed = send(request("/shards/" + shard).DELETE().build());
        assertThat(killed.body()).contains("\"state\":\"DYING\"");
        HttpResponse<String> refused = get("/shards/" + shard + "/k");
        assertThat(refused.statusCode()).isEqualTo(503);
        assertThat(refused.body()).contains("\"resource\":\"" + shard + "\"");
        assertThat(send(request("/shards/" + shard).DELETE().build()).statusCode()).isEqualTo(409);

        assertThat(scan.get(10, TimeUnit.SECONDS).body()).isEqualTo("v");
        await().atMost(Duration.ofSeconds(5)).until(() -> get("/shards/" + shard).statusCode() == 404);
    }

    @Test
    void shardApiRejectsBadRequests() throws Exception {
        assertThat(send(request("/shards?name=Not%20Valid").POST(HttpRequest.BodyPublishers.noBody()).build())
                .statusCode()).isEqualTo(400);
        assertThat(get("/shards/nope/k").statusCode()).isEqualTo(404);
        String shard = createShard();
        assertThat(get("/shards/" + shard + "/k?holdMillis=3600000").statusCode()).isEqualTo(400);
        assertThat(send(request("/shards?name=" + shard).POST(HttpRequest.BodyPublishers.noBody()).build())
                .statusCode()).isEqualTo(400);
    }

    @Test
    void healthShowsThePercpuRefsIndicator() throws Exception {
        HttpResponse<String> health = get("/actuator/health");
        assertThat(health.statusCode()).isEqualTo(200);
        assertThat(health.body()).contains("\"percpuRefs\":{");
    }

    @Test
    void loadGeneratorStopsByItselfAtItsRequestBudget() throws Exception {
        LoadGenerator.Summary summary = new LoadGenerator(URI.create("http://127.0.0.1:" + this.port),
                new LoadGenerator.Settings(Duration.ofSeconds(20), 300, 2, Duration.ZERO, Duration.ofMillis(200),
                        Duration.ofMillis(300), Duration.ZERO)).run();
        assertThat(summary.requests()).isEqualTo(300);
        assertThat(summary.elapsed()).isLessThan(Duration.ofSeconds(20));
        assertThat(summary.failed()).isZero();
        assertThat(summary.shardsCreated()).isGreaterThanOrEqualTo(3);
    }

    @Test
    void loadGeneratorStopsByItselfAtItsDuration() throws Exception {
        LoadGenerator.Summary summary = new LoadGenerator(URI.create("http://localhost:" + this.port),
                new LoadGenerator.Settings(Duration.ofSeconds(2), 1_000_000, 2, Duration.ofMillis(5),
                        Duration.ofMillis(300), Duration.ofMillis(200), Duration.ZERO)).run();
        assertThat(summary.elapsed()).isBetween(Duration.ofSeconds(2), Duration.ofSeconds(15));
        assertThat(summary.requests()).isLessThan(1_000_000);
        assertThat(summary.failed()).isZero();
        assertThat(summary.shardsKilled()).isPositive();
    }

    @Test
    void loadGeneratorRefusesANonLoopbackTarget() {
        LoadGenerator.Settings settings = new LoadGenerator.Settings(Duration.ofSeconds(1), 1, 1, Duration.ZERO,
                Duration.ofSeconds(1), Duration.ZERO, Duration.ZERO);
        assertThatThrownBy(() -> new LoadGenerator(URI.create("http://192.0.2.1:8080"), settings))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("loopback");
        assertThatThrownBy(() -> new LoadGenerator(URI.create("https://127.0.0.1:8443"), settings))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("loopback");
    }

    /** How much the demo's sample {@code name} grew from the scrape {@code before} to {@code after}. */
    private static double increase(String before, String after, String name) {
        return sample(after, name) - sample(before, name);
    }

    private static double sample(String scrape, String name) {
        Matcher sample = Pattern.compile("(?m)^" + name + "\\{application=\"percpu-ref-demo\",registry=\"default\"} (\\S+)$").matcher(scrape);
        assertThat(sample.find()).as("%s in the scrape", name).isTrue();
        return Double.parseDouble(sample.group(1));
    }

    private String createShard() throws Exception {
        HttpResponse<String> created = send(request("/shards").POST(HttpRequest.BodyPublishers.noBody()).build());
        assertThat(created.statusCode()).isEqualTo(201);
        Matcher name = NAME.matcher(created.body());
        assertThat(name.find()).isTrue();
        return name.group(1);
    }

    private HttpResponse<String> get(String path) throws Exception {
        return send(request(path).GET().build());
    }

    private HttpResponse<String> put(String path, String body) throws Exception {
        return send(request(path).header("Content-Type", "text/plain").PUT(HttpRequest.BodyPublishers.ofString(body)).build());
    }

    private HttpResponse<String> send(HttpRequest request) throws Exception {
        return this.http.send(request, HttpResponse.BodyHandlers.ofString());
    }

    private HttpRequest.Builder request(String path) {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + this.port + path));
    }
}
