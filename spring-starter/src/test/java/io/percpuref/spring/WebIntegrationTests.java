package io.percpuref.spring;

import io.micrometer.core.instrument.MeterRegistry;
import io.percpuref.micrometer.PercpuRefMetrics;
import io.percpuref.registry.LeakDetection;
import io.percpuref.registry.RefRegistry;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The starter in a real application: embedded Tomcat on a random port, actuator, a real HTTP
 * client. The guarded endpoint works while its resource is live; after an actuator kill, new
 * requests get 503 while a slow request in flight completes, and only then is the resource closed,
 * once.
 */
@SpringBootTest(classes = WebApp.class, webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "management.endpoints.web.exposure.include=health,percpurefs", "management.endpoint.percpurefs.access=unrestricted",
        "management.endpoint.health.show-details=always"})
class WebIntegrationTests {

    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    @LocalServerPort
    private int port;

    @Autowired
    private TestBackend backend;

    @Autowired
    private MeterRegistry meters;

    @Autowired
    private RefRegistry registry;

    @Test
    void killThroughTheActuatorRefusesNewRequestsAndClosesAfterTheRequestInFlight() throws Exception {
        this.registry.setLeakDetection(LeakDetection.PARANOID);
        assertThat(get("/work").statusCode()).isEqualTo(200);
        assertThat(get("/async").body()).isEqualTo("async ok");
        assertThat(get("/actuator/percpurefs").body()).contains("\"name\":\"backend\"").contains("\"state\":\"LIVE\"");

        CompletableFuture<HttpResponse<String>> slow = this.http.sendAsync(request("/slow").GET().build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(this.backend.awaitSlowCalls()).isTrue();
        assertThat(get("/actuator/percpurefs/backend").body()).contains("\"inFlight\":1");

        HttpResponse<String> kill = send(request("/actuator/percpurefs/backend")
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString("{}")).build());
        assertThat(kill.statusCode()).isEqualTo(200);
        assertThat(kill.body()).contains("\"killed\":true").contains("\"state\":\"DYING\"");
        // Who holds it: the slow request's lease (tracked: PARANOID); its site is the guarded method's
        // proxy frame, followed in the trace by the line of the controller that called it.
        assertThat(get("/actuator/percpurefs/backend").body()).contains("\"holders\":{\"openLeases\":1,")
                .containsPattern("\"site\":\"" + TestBackend.class.getName().replace(".", "\\.")
                        + "\\$\\$SpringCGLIB\\$\\$\\d+\\.slow\\(<generated>\\)\",\"trace\":\\[\"[^\"]+\",\""
                        + BackendController.class.getName().replace(".", "\\.") + "\\.slow\\(BackendController\\.java:31\\)\"");

        HttpResponse<String> refused = get("/work");
        assertThat(refused.statusCode()).isEqualTo(503);
        assertThat(refused.headers().firstValue("Content-Type")).hasValue("application/problem+json");
        assertThat(refused.headers().firstValue("Retry-After")).hasValue("1");
        assertThat(refused.body()).contains("\"status\":503").contains("\"instance\":\"/work\"")
                .contains("\"resource\":\"backend\"").contains("\"state\":\"DYING\"");
        HttpResponse<String> refusedAsync = get("/async");
        assertThat(refusedAsync.statusCode()).isEqualTo(503);
        assertThat(refusedAsync.body()).contains("\"resource\":\"backend\"");
        assertThat(this.backend.closes()).isZero();

        this.backend.openGate();
        HttpResponse<String> slowResponse = slow.get(10, TimeUnit.SECONDS);
        assertThat(slowResponse.statusCode()).isEqualTo(200);
        assertThat(slowResponse.body()).isEqualTo("slow ok");
        await().until(() -> this.backend.closes() == 1);
        assertThat(this.backend.events()).containsExactly("slow finished", "closed");
        assertThat(get("/actuator/percpurefs/backend").statusCode()).isEqualTo(404);
        this.registry.setLeakDetection(LeakDetection.SIMPLE);
    }

    @Test
    void leakDetectionIsChangedThroughTheActuatorAndBadValuesAreRefused() throws Exception {
        try {
            HttpResponse<String> changed = post("/actuator/percpurefs", "{\"leakDetection\":\"paranoid\"}");
            assertThat(changed.statusCode()).isEqualTo(200);
            assertThat(changed.body()).contains("\"leakDetection\":\"PARANOID\"").contains("\"leakSamplingInterval\":128");
            assertThat(this.registry.leakDetection()).isEqualTo(LeakDetection.PARANOID);
            assertThat(get("/actuator/percpurefs").body()).contains("\"leakDetection\":\"PARANOID\"");

            assertThat(post("/actuator/percpurefs", "{\"leakSamplingInterval\":0}").statusCode()).isEqualTo(400);
            assertThat(post("/actuator/percpurefs", "{\"leakDetection\":\"sometimes\"}").statusCode()).isEqualTo(400);
            assertThat(post("/actuator/percpurefs", "{}").statusCode()).isEqualTo(400);
            assertThat(this.registry.leakDetection()).isEqualTo(LeakDetection.PARANOID);
            assertThat(this.registry.leakSamplingInterval()).isEqualTo(128);
        }
        finally {
            this.registry.setLeakDetection(LeakDetection.SIMPLE);
        }
    }

    @Test
    void metersAreBoundToTheApplicationsMeterRegistry() {
        assertThat(this.meters.find(PercpuRefMetrics.REFS).tag("state", "live").gauge()).isNotNull();
        assertThat(this.meters.find(PercpuRefMetrics.REJECTIONS).functionCounter()).isNotNull();
    }

    @Test
    void healthShowsThePercpuRefsIndicator() throws Exception {
        HttpResponse<String> health = get("/actuator/health");
        assertThat(health.statusCode()).isEqualTo(200);
        assertThat(health.body()).contains("\"percpuRefs\":{").contains("\"stuckThreshold\":\"PT1M\"");
    }

    private HttpResponse<String> post(String path, String json) throws Exception {
        return send(request(path).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json)).build());
    }

    private HttpResponse<String> get(String path) throws Exception {
        return send(request(path).GET().build());
    }

    private HttpResponse<String> send(HttpRequest request) throws Exception {
        return this.http.send(request, HttpResponse.BodyHandlers.ofString());
    }

    private HttpRequest.Builder request(String path) {
        return HttpRequest.newBuilder(URI.create("http://localhost:" + this.port + path));
    }
}
