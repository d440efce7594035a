package io.percpuref.examples.spring;

import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A real Prometheus server for a test: the {@code prometheus} binary (Debian package
 * {@code prometheus}) started on a free loopback port with its own configuration and storage in a
 * temporary directory, scraping one target every second; and a client for its HTTP API. Closing it
 * stops the process (and waits for it).
 */
final class PrometheusServer implements AutoCloseable {

    /** The command to run when the binary is missing. */
    static final String INSTALL_COMMAND = "apt-get install -y prometheus";

    private static final JsonMapper JSON = JsonMapper.builder().build();

    private final Process process;
    private final URI base;
    private final Path log;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    private PrometheusServer(Process process, URI base, Path log) {
        this.process = process;
        this.base = base;
        this.log = log;
    }

    /**
     * The Prometheus binary: the system property {@code prometheus.binary}, else {@code prometheus}
     * on the {@code PATH}, else {@code /usr/bin/prometheus}.
     */
    static Optional<Path> findBinary() {
        String configured = System.getProperty("prometheus.binary");
        if (configured != null && !configured.isBlank()) {
            return Optional.of(Path.of(configured)).filter(Files::isExecutable);
        }
        String path = System.getenv().getOrDefault("PATH", "");
        return Stream.concat(Stream.of(path.split(java.io.File.pathSeparator)).filter(dir -> !dir.isBlank())
                        .map(dir -> Path.of(dir, "prometheus")), Stream.of(Path.of("/usr/bin/prometheus")))
                .filter(Files::isExecutable).findFirst();
    }

    /**
     * Writes {@code prometheus.yml} into {@code workDir}, scraping {@code target} (host:port) on
     * {@code metricsPath} every second as job {@code job}, starts Prometheus on a free loopback port
     * with its storage in {@code workDir/data}, and waits until it is ready.
     *
     * @throws IllegalStateException if Prometheus exits or is not ready within 30 s (the message has
     *                               the end of its log)
     */
    static PrometheusServer start(Path binary, Path workDir, String job, String target, String metricsPath)
            throws IOException, InterruptedException {
        Path config = workDir.resolve("prometheus.yml");
        Files.writeString(config, """
                global:
                  scrape_interval: 1s
                  scrape_timeout: 1s
                  evaluation_interval: 1s
                scrape_configs:
                  - job_name: %s
                    metrics_path: %s
                    static_configs:
                      - targets: ['%s']
                """.formatted(job, metricsPath, target));
        int port = freeLoopbackPort();
        Path log = workDir.resolve("prometheus.log");
        Process process = new ProcessBuilder(binary.toString(),
                "--config.file=" + config,
                "--storage.tsdb.path=" + workDir.resolve("data"),
                "--storage.tsdb.retention.time=1h",
                "--web.listen-address=127.0.0.1:" + port,
                "--log.level=warn")
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        PrometheusServer server = new PrometheusServer(process, URI.create("http://127.0.0.1:" + port), log);
        try {
            server.awaitReady(Duration.ofSeconds(30));
        } catch (RuntimeException | IOException | InterruptedException e) { // not ready: stop it
            server.close();
            throw e;
        }
        return server;
    }

    /** {@code GET /api/v1/query}: the {@code data.result} of an instant query evaluated now. */
    JsonNode query(String promql) throws IOException, InterruptedException {
        return api("/api/v1/query?query=" + encode(promql)).path("result");
    }

    /** The value of an instant query that returns one sample (NaN if it returns none). */
    double queryValue(String promql) throws IOException, InterruptedException {
        JsonNode result = query(promql);
        return result.isEmpty() ? Double.NaN : Double.parseDouble(result.get(0).path("value").get(1).asString());
    }

    /** The value of an instant query evaluated at {@code time} that returns one sample (NaN if none). */
    double queryValueAt(String promql, Instant time) throws IOException, InterruptedException {
        JsonNode result = api("/api/v1/query?query=" + encode(promql) + "&time=" + seconds(time)).path("result");
        return result.isEmpty() ? Double.NaN : Double.parseDouble(result.get(0).path("value").get(1).asString());
    }

    /** {@code GET /api/v1/query_range}: the whole response's {@code data} (resultType, result). */
    JsonNode queryRange(String promql, Instant start, Instant end, Duration step) throws IOException, InterruptedException {
        return api("/api/v1/query_range?query=" + encode(promql) + "&start=" + seconds(start) + "&end=" + seconds(end)
                + "&step=" + step.toMillis() / 1000.0);
    }

    /** Every metric name Prometheus has stored ({@code /api/v1/label/__name__/values}). */
    List<String> metricNames() throws IOException, InterruptedException {
        List<String> names = new ArrayList<>();
        for (JsonNode name : api("/api/v1/label/__name__/values")) {
            names.add(name.asString());
        }
        return names;
    }

    /** Stops Prometheus and waits for it (forcibly after 10 s, or at once if interrupted). */
    @Override
    public void close() {
        this.process.destroy();
        try {
            if (!this.process.waitFor(10, TimeUnit.SECONDS)) {
                this.process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            this.process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    private JsonNode api(String pathAndQuery) throws IOException, InterruptedException {
        HttpResponse<String> response = this.http.send(HttpRequest.newBuilder(this.base.resolve(pathAndQuery))
                .timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString());
        JsonNode body = JSON.readTree(response.body());
        if (response.statusCode() != 200 || !"success".equals(body.path("status").asString())) {
            throw new IllegalStateException("Prometheus " + pathAndQuery + " answered " + response.statusCode() + ": "
                    + response.body());
        }
        return body.path("data");
    }

    private void awaitReady(Duration timeout) throws IOException, InterruptedException {
        long giveUp = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < giveUp) {
            if (!this.process.isAlive()) {
                throw new IllegalStateException("Prometheus exited with " + this.process.exitValue() + ":\n" + logTail());
            }
            try {
                HttpResponse<Void> ready = this.http.send(HttpRequest.newBuilder(this.base.resolve("/-/ready"))
                        .timeout(Duration.ofSeconds(1)).GET().build(), HttpResponse.BodyHandlers.discarding());
                if (ready.statusCode() == 200) {
                    return;
                }
            } catch (IOException notYetListening) {
                // retried below
            }
            TimeUnit.MILLISECONDS.sleep(100);
        }
        throw new IllegalStateException("Prometheus not ready after " + timeout + ":\n" + logTail());
    }

    private String logTail() throws IOException {
        List<String> lines = Files.readAllLines(this.log);
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
    }

    private static int freeLoopbackPort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    private static String encode(String value) {
        return URLEncoder.encode(value, StandardCharsets.UTF_8);
    }

    private static String seconds(Instant instant) {
        return String.valueOf(instant.toEpochMilli() / 1000.0);
    }
}
