package io.percpuref.examples.spring;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A bounded load against the demo's own HTTP API, so that the dashboard has something to show.
 * Started by the application with {@code --demo.load.enabled=true} ({@link LoadGeneratorRunner}),
 * or from a test against any running demo.
 *
 * <p>Bounds: it talks to a loopback address only (the constructor refuses any other host), sends at
 * most {@link Settings#maxRequests()} requests and stops after {@link Settings#duration()}, whichever
 * comes first, or at {@link #stop()}; then it waits for its last slow scans and returns.
 *
 * <p>What it does:
 * <ul>
 *   <li>{@link Settings#clients()} client threads read and write the catalog (sync and async) and
 *   the shards, pausing {@link Settings#pause()} between requests; requests to a dying shard are
 *   refused (503, counted in {@code percpu_refs_rejections_total});</li>
 *   <li>a shard scenario, one step every {@link Settings#shardPeriod()}: first three shards are
 *   created, then it cycles through <em>create</em>, <em>slow scan + kill</em> (a request holds
 *   a lease on the oldest shard for {@link Settings#hold()} and the shard is killed meanwhile: it
 *   stays dying until the scan ends), <em>create</em>, <em>kill</em> (an idle shard: released at
 *   once). Once, after half the duration, the slow scan lasts {@link Settings#stuckHold()}
 *   instead, which outlasts a short {@code percpu-ref.stuck-threshold}.</li>
 * </ul>
 * So {@code percpu_refs{state="live"}} saw-tooths, {@code percpu_refs{state="dying"}} pulses, and
 * kills, releases, rejections and the drain latency move.
 *
 * <p>Thread-safety: {@link #run()} once, from one thread; {@link #stop()} from any thread.
 */
public final class LoadGenerator {

    private static final Logger log = LoggerFactory.getLogger(LoadGenerator.class);

    /** The {@code "name"} property of a shard in a response of the demo API. */
    private static final Pattern SHARD_NAME = Pattern.compile("\"name\"\\s*:\\s*\"([^\"]+)\"");

    private final URI base;
    private final Settings settings;
    private final ExecutorService httpThreads;
    private final HttpClient http;

    /** Requests sent or about to be sent; the budget is {@link Settings#maxRequests()}. */
    private final AtomicLong requests = new AtomicLong();
    private final LongAdder ok = new LongAdder();
    private final LongAdder refused = new LongAdder();
    private final LongAdder notFound = new LongAdder();
    private final LongAdder failed = new LongAdder();
    private final AtomicInteger shardsCreated = new AtomicInteger();
    private final AtomicInteger shardsKilled = new AtomicInteger();

    /** Live shards the scenario created, oldest first; written by the scenario thread only. */
    private final List<String> liveShards = new CopyOnWriteArrayList<>();
    /** Shards the clients use: the live ones and those being drained by a slow scan. */
    private final List<String> targets = new CopyOnWriteArrayList<>();
    /** The slow scans in flight. */
    private final List<CompletableFuture<?>> scans = new CopyOnWriteArrayList<>();
    /** Set by {@link #stop()}, or when a bound is reached. */
    private volatile boolean stopped;

    /**
     * A generator for the demo at {@code base}, e.g. {@code http://127.0.0.1:8080}.
     *
     * @throws IllegalArgumentException if {@code base}'s host is not a loopback address
     * @throws NullPointerException     if an argument is null
     */
    public LoadGenerator(URI base, Settings settings) {
        this.base = requireLoopback(Objects.requireNonNull(base, "base"));
        this.settings = Objects.requireNonNull(settings, "settings");
        AtomicInteger threads = new AtomicInteger();
        this.httpThreads = Executors.newFixedThreadPool(2, task -> daemon(task, "demo-load-http-" + threads.incrementAndGet()));
        this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(2)).executor(this.httpThreads).build();
    }

    /**
     * Runs the load until a bound is reached or {@link #stop()} is called, then waits for the slow
     * scans in flight (unless stopped) and returns what happened.
     *
     * @throws InterruptedException if the calling thread is interrupted (the load is stopped)
     */
    public Summary run() throws InterruptedException {
        long start = System.nanoTime();
        long deadline = start + this.settings.duration().toNanos();
        AtomicInteger threads = new AtomicInteger();
        ExecutorService clients = Executors.newFixedThreadPool(this.settings.clients(),
                task -> daemon(task, "demo-load-client-" + threads.incrementAndGet()));
        log.info("load started against {}: {}", this.base, this.settings);
        try {
            for (int i = 0; i < this.settings.clients(); i++) {
                int client = i;
                clients.execute(() -> clientLoop(client, deadline));
            }
            runScenario(start, deadline);
            this.stopped = true;
            clients.shutdown(); // each client finishes its request in progress
            awaitScans();
            clients.awaitTermination(15, TimeUnit.SECONDS);
        } finally {
            this.stopped = true;
            clients.shutdownNow();
            clients.awaitTermination(10, TimeUnit.SECONDS);
            this.scans.forEach(scan -> scan.cancel(true));
            this.httpThreads.shutdownNow();
        }
        Summary summary = new Summary(Math.min(this.requests.get(), this.settings.maxRequests()), this.ok.sum(), this.refused.sum(),
                this.notFound.sum(), this.failed.sum(), this.shardsCreated.get(), this.shardsKilled.get(),
                Duration.ofNanos(System.nanoTime() - start));
        log.info("load finished: {}", summary);
        return summary;
    }

    /** Stops the load; {@link #run()} returns without waiting for slow scans. */
    public void stop() {
        this.stopped = true;
        this.scans.forEach(scan -> scan.cancel(true));
    }

    // ---------------------------------------------------------------------------------------------
    // The shard scenario (the calling thread of run())

    private void runScenario(long start, long deadline) throws InterruptedException {
        long period = this.settings.shardPeriod().toNanos();
        long halfway = start + this.settings.duration().toNanos() / 2;
        boolean stuckScanDone = this.settings.stuckHold().isZero();
        for (int i = 0; i < 3 && !this.stopped; i++) {
            createShard();
        }
        for (long step = 1; !this.stopped; step++) {
            long next = start + step * period;
            if (next >= deadline) {
                parkUntil(deadline);
                return;
            }
            parkUntil(next);
            if (this.stopped) {
                return;
            }
            switch ((int) (step % 4)) {
                case 1, 3 -> createShard();
                case 2 -> {
                    boolean stuck = !stuckScanDone && System.nanoTime() >= halfway;
                    stuckScanDone |= stuck;
                    slowScanAndKill(stuck ? this.settings.stuckHold() : this.settings.hold());
                }
                default -> killIdleShard();
            }
        }
    }

    private void createShard() {
        HttpResponse<String> created = send(HttpRequest.newBuilder(uri("/shards"))
                .POST(HttpRequest.BodyPublishers.noBody()));
        if (created == null || created.statusCode() != 201) {
            return;
        }
        Matcher name = SHARD_NAME.matcher(created.body());
        if (name.find()) {
            String shard = name.group(1);
            this.shardsCreated.incrementAndGet();
            this.liveShards.add(shard);
            this.targets.add(shard);
            log.info("load: created {}", shard);
        }
    }

    /** A request holds a lease on the oldest shard for {@code hold}; the shard is killed meanwhile. */
    private void slowScanAndKill(Duration hold) throws InterruptedException {
        if (this.liveShards.size() < 2) {
            return;
        }
        String shard = this.liveShards.get(0);
        if (!takeBudget()) {
            return;
        }
        HttpRequest scan = HttpRequest.newBuilder(uri("/shards/" + shard + "/key-0?holdMillis=" + hold.toMillis()))
                .timeout(hold.plusSeconds(10)).GET().build();
        CompletableFuture<HttpResponse<String>> response = this.http.sendAsync(scan, HttpResponse.BodyHandlers.ofString());
        this.scans.add(response.whenComplete((r, e) -> {
            count(r, e);
            this.targets.remove(shard); // released by now: later requests would only get 404
        }));
        awaitInFlight(shard);
        log.info("load: slow scan of {} holds a lease for {}; killing it", shard, hold);
        kill(shard);
    }

    private void killIdleShard() {
        if (this.liveShards.size() < 2) {
            return;
        }
        String shard = this.liveShards.get(0);
        log.info("load: killing {}", shard);
        this.targets.remove(shard);
        kill(shard);
    }

    private void kill(String shard) {
        this.liveShards.remove(shard);
        HttpResponse<String> killed = send(HttpRequest.newBuilder(uri("/shards/" + shard)).DELETE());
        if (killed != null && killed.statusCode() == 200) {
            this.shardsKilled.incrementAndGet();
        }
    }

    /** Waits (at most 2 s) until the demo reports a lease on {@code shard}, i.e. the slow scan has started. */
    private void awaitInFlight(String shard) throws InterruptedException {
        long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
        while (!this.stopped && System.nanoTime() < giveUp) {
            HttpResponse<String> info = send(HttpRequest.newBuilder(uri("/shards/" + shard)).GET());
            if (info == null || info.statusCode() != 200 || !info.body().contains("\"inFlight\":0")) {
                return;
            }
            parkUntil(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(20));
        }
    }

    private void awaitScans() throws InterruptedException {
        Duration longest = this.settings.hold().compareTo(this.settings.stuckHold()) >= 0
                ? this.settings.hold() : this.settings.stuckHold();
        try {
            CompletableFuture.allOf(this.scans.toArray(CompletableFuture[]::new))
                    .get(longest.plusSeconds(10).toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException | CancellationException e) {
            // counted as failed in count()
        } catch (TimeoutException e) {
            log.warn("load: slow scans still running after {}; not waiting for them", longest.plusSeconds(10));
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Clients

    private void clientLoop(int client, long deadline) {
        for (long n = client; !this.stopped; n += this.settings.clients()) {
            if (System.nanoTime() >= deadline || !takeBudget()) {
                this.stopped = true;
                return;
            }
            HttpRequest.Builder request = clientRequest(n);
            HttpResponse<String> response = sendCounted(request);
            if (response == null && Thread.currentThread().isInterrupted()) {
                return;
            }
            if (!this.settings.pause().isZero()) {
                LockSupport.parkNanos(this.settings.pause().toNanos());
            }
        }
    }

    /** The {@code n}-th client request: half catalog reads, some writes and async reads, a fifth on shards. */
    private HttpRequest.Builder clientRequest(long n) {
        String catalogKey = "key-" + (n % 8);
        List<String> shards = List.copyOf(this.targets);
        int op = (int) (n % 10);
        if (op >= 8 && !shards.isEmpty()) {
            String shard = shards.get((int) ((n / 10) % shards.size()));
            String shardKey = "/shards/" + shard + "/key-" + (n % 4);
            return op == 8
                    ? HttpRequest.newBuilder(uri(shardKey)).GET()
                    : HttpRequest.newBuilder(uri(shardKey)).header("Content-Type", "text/plain")
                            .PUT(HttpRequest.BodyPublishers.ofString("value-" + n));
        }
        return switch (op) {
            case 5 -> HttpRequest.newBuilder(uri("/catalog/key-" + (n % 16))).header("Content-Type", "text/plain")
                    .PUT(HttpRequest.BodyPublishers.ofString("value-" + n));
            case 6, 7 -> HttpRequest.newBuilder(uri("/catalog/" + catalogKey + "/async")).GET();
            default -> HttpRequest.newBuilder(uri("/catalog/" + catalogKey)).GET();
        };
    }

    // ---------------------------------------------------------------------------------------------
    // HTTP

    /** Sends a scenario request (within the budget); null if the budget is spent or it failed. */
    private HttpResponse<String> send(HttpRequest.Builder request) {
        return takeBudget() ? sendCounted(request) : null;
    }

    /** Sends a request and counts its outcome; null if it failed, or was abandoned because the load is stopping. */
    private HttpResponse<String> sendCounted(HttpRequest.Builder request) {
        HttpResponse<String> response = null;
        Throwable failure = null;
        try {
            response = this.http.send(request.timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            failure = e;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt(); // stopped: abandoned, not counted
            return null;
        }
        count(response, failure);
        return response;
    }

    private void count(HttpResponse<?> response, Throwable failure) {
        if (failure != null || response == null) {
            this.failed.increment();
            log.warn("load: request failed: {}", failure != null ? failure.toString() : "no response");
        } else if (response.statusCode() / 100 == 2) {
            this.ok.increment();
        } else if (response.statusCode() == 503) {
            this.refused.increment();
        } else if (response.statusCode() == 404) {
            this.notFound.increment();
        } else {
            this.failed.increment();
            log.warn("load: {} {} answered {}", response.request().method(), response.uri(), response.statusCode());
        }
    }

    private boolean takeBudget() {
        if (this.requests.incrementAndGet() > this.settings.maxRequests()) {
            this.stopped = true;
            return false;
        }
        return true;
    }

    private URI uri(String path) {
        return this.base.resolve(path);
    }

    private static URI requireLoopback(URI base) {
        String host = base.getHost();
        try {
            if (host != null && InetAddress.getByName(host).isLoopbackAddress() && "http".equals(base.getScheme())) {
                return base;
            }
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("the load generator only targets loopback addresses: " + base, e);
        }
        throw new IllegalArgumentException("the load generator only targets loopback addresses over http: " + base);
    }

    private static void parkUntil(long nanoTime) throws InterruptedException {
        for (long left; (left = nanoTime - System.nanoTime()) > 0; ) {
            LockSupport.parkNanos(left);
            if (Thread.interrupted()) {
                throw new InterruptedException();
            }
        }
    }

    private static Thread daemon(Runnable task, String name) {
        Thread thread = new Thread(task, name);
        thread.setDaemon(true);
        return thread;
    }

    /**
     * What to generate.
     *
     * @param duration    how long the load runs (1 s to 1 h)
     * @param maxRequests most requests sent, scenario requests included (at least 1)
     * @param clients     client threads (1 to 64)
     * @param pause       each client's pause between two requests (0 to 10 s)
     * @param shardPeriod time between two steps of the shard scenario (100 ms to 10 min)
     * @param hold        how long a slow scan keeps a killed shard dying (0 to 10 min)
     * @param stuckHold   the once-per-run longer slow scan; 0 for none (0 to 10 min)
     */
    public record Settings(Duration duration, long maxRequests, int clients, Duration pause, Duration shardPeriod,
                           Duration hold, Duration stuckHold) {

        private static final Duration TEN_MINUTES = Duration.ofMinutes(10);

        /** @throws IllegalArgumentException if a value is out of its range (see the record's doc) */
        public Settings {
            require(duration, Duration.ofSeconds(1), Duration.ofHours(1), "duration");
            require(pause, Duration.ZERO, Duration.ofSeconds(10), "pause");
            require(shardPeriod, Duration.ofMillis(100), TEN_MINUTES, "shardPeriod");
            require(hold, Duration.ZERO, TEN_MINUTES, "hold");
            require(stuckHold, Duration.ZERO, TEN_MINUTES, "stuckHold");
            if (maxRequests < 1) {
                throw new IllegalArgumentException("maxRequests must be at least 1, was " + maxRequests);
            }
            if (clients < 1 || clients > 64) {
                throw new IllegalArgumentException("clients must be between 1 and 64, was " + clients);
            }
        }

        private static void require(Duration value, Duration min, Duration max, String name) {
            Objects.requireNonNull(value, name);
            if (value.compareTo(min) < 0 || value.compareTo(max) > 0) {
                throw new IllegalArgumentException(name + " must be between " + min + " and " + max + ", was " + value);
            }
        }
    }

    /**
     * What happened.
     *
     * @param requests      requests sent
     * @param ok            answered 2xx
     * @param refused       answered 503 (the resource was dying)
     * @param notFound      answered 404 (a missing key, or a shard already released)
     * @param failed        anything else: other statuses, I/O errors, timeouts
     * @param shardsCreated shards the scenario created
     * @param shardsKilled  shards the scenario killed
     * @param elapsed       how long it ran
     */
    public record Summary(long requests, long ok, long refused, long notFound, long failed, int shardsCreated,
                          int shardsKilled, Duration elapsed) {
    }
}
