package io.percpuref.spring;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledForJreRange;
import org.junit.jupiter.api.condition.JRE;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Guarded calls on virtual threads ({@code spring.threads.virtual.enabled=true}, JDK 21+; the build
 * runs it on JDK 25): many requests in flight at once on virtual threads, a kill, refusals of new
 * requests, every call in flight completes, and the resource closes once, after the last of them.
 */
@EnabledForJreRange(min = JRE.JAVA_21)
@SpringBootTest(classes = WebApp.class, webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "spring.threads.virtual.enabled=true",
        "management.endpoints.web.exposure.include=percpurefs", "management.endpoint.percpurefs.access=unrestricted"})
class VirtualThreadsTests {

    private static final int IN_FLIGHT = 32;

    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    @LocalServerPort
    private int port;

    @Autowired
    private TestBackend backend;

    @Test
    void manyCallsInFlightOnVirtualThreadsDrainBeforeTheClose() throws Exception {
        this.backend.expectSlowCalls(IN_FLIGHT);
        List<CompletableFuture<HttpResponse<String>>> slow = new ArrayList<>();
        for (int i = 0; i < IN_FLIGHT; i++) {
            slow.add(this.http.sendAsync(request("/slow").GET().build(), HttpResponse.BodyHandlers.ofString()));
        }
        assertThat(this.backend.awaitSlowCalls()).isTrue();
        assertThat(this.backend.callThreads()).hasSize(IN_FLIGHT).allSatisfy(t -> assertThat(isVirtual(t)).isTrue());

        HttpResponse<String> kill = this.http.send(request("/actuator/percpurefs/backend")
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString("{}")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(kill.body()).contains("\"killed\":true");
        assertThat(this.http.send(request("/work").GET().build(), HttpResponse.BodyHandlers.ofString()).statusCode())
                .isEqualTo(503);
        assertThat(this.backend.closes()).isZero();

        this.backend.openGate();
        for (CompletableFuture<HttpResponse<String>> response : slow) {
            assertThat(response.get(20, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
        }
        await().until(() -> this.backend.closes() == 1);
        assertThat(this.backend.events()).hasSize(IN_FLIGHT + 1).last().isEqualTo("closed");
    }

    private HttpRequest.Builder request(String path) {
        return HttpRequest.newBuilder(URI.create("http://localhost:" + this.port + path));
    }

    /** {@code Thread.isVirtual()}, called reflectively: this code is compiled for Java 17. */
    private static boolean isVirtual(Thread thread) {
        try {
            return (boolean) Thread.class.getMethod("isVirtual").invoke(thread);
        }
        catch (ReflectiveOperationException e) {
            throw new AssertionError(e);
        }
    }
}
