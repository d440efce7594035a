package io.percpuref.spring;

import io.percpuref.ResourceUnavailableException;
import io.percpuref.registry.ManagedResource;
import io.percpuref.registry.RefRegistry;
import io.percpuref.spring.autoconfigure.PercpuRefAutoConfiguration;
import org.junit.jupiter.api.Test;
import org.reactivestreams.Publisher;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.test.StepVerifier;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** {@code @Guarded} on Reactor {@code Mono} and {@code Flux}: a lease per subscription. */
class ReactiveGuardTests {

    private final ApplicationContextRunner runner = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(PercpuRefAutoConfiguration.class))
            .withUserConfiguration(Reactive.class);

    @Test
    void monoHoldsALeaseFromSubscriptionToCompletion() {
        this.runner.run(context -> {
            ManagedResource<?> db = db(context);
            Sinks.One<String> sink = Sinks.one();
            Mono<String> mono = context.getBean(ReactiveService.class).mono(sink.asMono());
            assertThat(db.info().inFlight()).as("assembled, not subscribed").isZero();
            StepVerifier.create(mono)
                    .then(() -> assertThat(db.info().inFlight()).isEqualTo(1))
                    .then(() -> sink.tryEmitValue("v"))
                    .expectNext("v")
                    .verifyComplete();
            assertThat(db.info().inFlight()).isZero();
        });
    }

    @Test
    void monoReleasesTheLeaseOnError() {
        this.runner.run(context -> {
            Mono<String> mono = context.getBean(ReactiveService.class).mono(Mono.error(new IllegalStateException("boom")));
            StepVerifier.create(mono).verifyErrorMessage("boom");
            assertThat(db(context).info().inFlight()).isZero();
        });
    }

    @Test
    void fluxReleasesTheLeaseOnCancel() {
        this.runner.run(context -> {
            ManagedResource<?> db = db(context);
            Flux<Long> flux = context.getBean(ReactiveService.class).flux(Flux.never());
            Disposable subscription = flux.subscribe();
            assertThat(db.info().inFlight()).isEqualTo(1);
            subscription.dispose();
            assertThat(db.info().inFlight()).isZero();
        });
    }

    @Test
    void eachSubscriptionTakesItsOwnLease() {
        this.runner.run(context -> {
            ManagedResource<?> db = db(context);
            Flux<Long> flux = context.getBean(ReactiveService.class).flux(Flux.never());
            Disposable first = flux.subscribe();
            Disposable second = flux.subscribe();
            assertThat(db.info().inFlight()).isEqualTo(2);
            first.dispose();
            second.dispose();
            assertThat(db.info().inFlight()).isZero();
        });
    }

    @Test
    void refusedAtCallTimeIsAnErrorSignal() {
        this.runner.run(context -> {
            ReactiveService service = context.getBean(ReactiveService.class);
            db(context).kill();
            StepVerifier.create(service.mono(Mono.just("v"))).verifyError(ResourceUnavailableException.class);
            StepVerifier.create(service.flux(Flux.just(1L))).verifyError(ResourceUnavailableException.class);
            assertThat(service.assemblies()).isZero();
        });
    }

    @Test
    void subscriptionAfterTheKillIsRefused() {
        this.runner.run(context -> {
            Flux<Long> flux = context.getBean(ReactiveService.class).flux(Flux.just(1L, 2L));
            db(context).kill();
            StepVerifier.create(flux).verifyError(ResourceUnavailableException.class);
        });
    }

    @Test
    void refusedSubscriptionGoesToTheFallback() {
        this.runner.run(context -> {
            Mono<String> mono = context.getBean(ReactiveService.class).withFallback("x");
            db(context).kill();
            StepVerifier.create(mono).expectNext("fallback x").verifyComplete();
            StepVerifier.create(context.getBean(ReactiveService.class).withFallback("y"))
                    .expectNext("fallback y").verifyComplete();
        });
    }

    @Test
    void killWaitsForTheSubscriptionBeforeTheRelease() {
        this.runner.run(context -> {
            Sinks.Many<Long> sink = Sinks.many().unicast().onBackpressureBuffer();
            AtomicLong sum = new AtomicLong();
            context.getBean(ReactiveService.class).flux(sink.asFlux()).subscribe(sum::addAndGet);
            db(context).kill();
            sink.tryEmitNext(1L);
            assertThat(db(context).info().inFlight()).isEqualTo(1);
            assertThat(context.getBean(GuardedMethodsTests.Db.class).closes()).isZero();
            sink.tryEmitComplete();
            await().until(() -> context.getBean(GuardedMethodsTests.Db.class).closes() == 1);
            assertThat(sum).hasValue(1);
        });
    }

    @Test
    void publisherReturnTypeHoldsALeasePerSubscription() {
        this.runner.run(context -> {
            ManagedResource<?> db = db(context);
            Publisher<Long> publisher = context.getBean(ReactiveService.class).publisher(Flux.never());
            assertThat(db.info().inFlight()).as("assembled, not subscribed").isZero();
            Disposable subscription = Flux.from(publisher).subscribe();
            assertThat(db.info().inFlight()).isEqualTo(1);
            subscription.dispose();
            assertThat(db.info().inFlight()).isZero();
        });
    }

    @Test
    @SuppressWarnings("unchecked")
    void objectReturnTypeHoldingAFluxHoldsALeasePerSubscription() {
        this.runner.run(context -> {
            ManagedResource<?> db = db(context);
            Sinks.Many<Long> sink = Sinks.many().unicast().onBackpressureBuffer();
            Object returned = context.getBean(ReactiveService.class).object(sink.asFlux());
            assertThat(returned).isInstanceOf(Flux.class);
            StepVerifier.create((Flux<Object>) returned)
                    .then(() -> assertThat(db.info().inFlight()).isEqualTo(1))
                    .then(() -> sink.tryEmitNext(7L))
                    .expectNext(7L)
                    .then(sink::tryEmitComplete)
                    .verifyComplete();
            assertThat(db.info().inFlight()).isZero();
        });
    }

    @Test
    void subscriptionToAPublisherAfterTheKillIsRefused() {
        this.runner.run(context -> {
            Publisher<Long> publisher = context.getBean(ReactiveService.class).publisher(Flux.just(1L));
            db(context).kill();
            StepVerifier.create(publisher).verifyError(ResourceUnavailableException.class);
        });
    }

    @Test
    void refusedPublisherSubscriptionGoesToTheFallback() {
        this.runner.run(context -> {
            Publisher<String> publisher = context.getBean(ReactiveService.class).publisherWithFallback("x");
            db(context).kill();
            StepVerifier.create(publisher).expectNext("fallback x").verifyComplete();
        });
    }

    /**
     * The documented limit: cancel ends the subscription's lease at once, while work that ignores
     * the cancel (here a future behind {@code Mono.fromFuture}) keeps running and may see the
     * resource closed.
     */
    @Test
    void cancelEndsTheSubscriptionsLeaseWhileWorkThatIgnoresTheCancelStillRuns() throws Exception {
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            this.runner.run(context -> {
                GuardedMethodsTests.Db resource = context.getBean(GuardedMethodsTests.Db.class);
                CancellationService service = context.getBean(CancellationService.class);
                CountDownLatch gate = new CountDownLatch(1);
                Disposable subscription = service.unsafe(gate, pool).subscribe();
                await().until(() -> service.worker().started() == 1);
                subscription.dispose();
                assertThat(db(context).info().inFlight()).isZero();
                db(context).kill();
                await().until(() -> resource.closes() == 1);
                gate.countDown();
                await().until(() -> service.worker().closesSeen().size() == 1);
                assertThat(service.worker().closesSeen()).containsExactly(1);
            });
        }
        finally {
            pool.shutdownNow();
        }
    }

    /**
     * The documented safe pattern: the work is started through a {@code @Guarded} method that returns
     * its {@code CompletableFuture}, so it holds a lease of its own until it is done, whatever
     * happens to the subscription.
     */
    @Test
    void workStartedThroughAGuardedFutureKeepsItsLeaseAfterTheCancel() throws Exception {
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            this.runner.run(context -> {
                GuardedMethodsTests.Db resource = context.getBean(GuardedMethodsTests.Db.class);
                CancellationService service = context.getBean(CancellationService.class);
                CountDownLatch gate = new CountDownLatch(1);
                Disposable subscription = service.safe(gate, pool).subscribe();
                await().until(() -> service.worker().started() == 1);
                subscription.dispose();
                assertThat(db(context).info().inFlight()).isEqualTo(1);
                db(context).kill();
                await().during(Duration.ofMillis(150)).atMost(Duration.ofSeconds(2)).until(() -> resource.closes() == 0);
                gate.countDown();
                await().until(() -> resource.closes() == 1);
                assertThat(service.worker().closesSeen()).containsExactly(0);
            });
        }
        finally {
            pool.shutdownNow();
        }
    }

    private static ManagedResource<?> db(org.springframework.context.ApplicationContext context) {
        return context.getBean(RefRegistry.class).find("db").orElseThrow();
    }

    @Configuration(proxyBeanMethods = false)
    static class Reactive {
        @Bean
        GuardedMethodsTests.Db db() {
            return new GuardedMethodsTests.Db();
        }

        @Bean
        ReactiveService reactiveService() {
            return new ReactiveService();
        }

        @Bean
        Worker worker(GuardedMethodsTests.Db db) {
            return new Worker(db);
        }

        @Bean
        CancellationService cancellationService(Worker worker) {
            return new CancellationService(worker);
        }
    }

    /** Blocking work on a pool that waits for a gate, then records how often "db" had been closed. */
    public static class Worker {
        private final GuardedMethodsTests.Db db;
        private final AtomicInteger started = new AtomicInteger();
        private final List<Integer> closesSeen = new CopyOnWriteArrayList<>();

        public Worker(GuardedMethodsTests.Db db) {
            this.db = db;
        }

        public int started() {
            return this.started.get();
        }

        public List<Integer> closesSeen() {
            return this.closesSeen;
        }

        /** Not guarded: the caller decides. */
        public CompletableFuture<Integer> start(CountDownLatch gate, Executor pool) {
            return CompletableFuture.supplyAsync(() -> {
                this.started.incrementAndGet();
                try {
                    gate.await(10, TimeUnit.SECONDS);
                }
                catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                this.closesSeen.add(this.db.closes());
                return this.db.closes();
            }, pool);
        }

        /** The same work, holding a lease on "db" until it is done. */
        @Guarded("db")
        public CompletableFuture<Integer> startGuarded(CountDownLatch gate, Executor pool) {
            return start(gate, pool);
        }
    }

    public static class CancellationService {
        private final Worker worker;

        public CancellationService(Worker worker) {
            this.worker = worker;
        }

        public Worker worker() {
            return this.worker;
        }

        @Guarded("db")
        public Mono<Integer> unsafe(CountDownLatch gate, Executor pool) {
            return Mono.fromFuture(() -> this.worker.start(gate, pool));
        }

        @Guarded("db")
        public Mono<Integer> safe(CountDownLatch gate, Executor pool) {
            return Mono.fromFuture(() -> this.worker.startGuarded(gate, pool));
        }
    }

    public static class ReactiveService {
        private final AtomicLong assemblies = new AtomicLong();

        /** How often a guarded method body ran. */
        public long assemblies() {
            return this.assemblies.get();
        }

        @Guarded("db")
        public Mono<String> mono(Mono<String> source) {
            this.assemblies.incrementAndGet();
            return source;
        }

        @Guarded("db")
        public Flux<Long> flux(Flux<Long> source) {
            this.assemblies.incrementAndGet();
            return source;
        }

        @Guarded(value = "db", fallbackMethod = "fallback")
        public Mono<String> withFallback(String s) {
            return Mono.just("live " + s);
        }

        Mono<String> fallback(String s) {
            return Mono.just("fallback " + s);
        }

        @Guarded("db")
        public Publisher<Long> publisher(Flux<Long> source) {
            return source;
        }

        @Guarded("db")
        public Object object(Flux<Long> source) {
            return source;
        }

        @Guarded(value = "db", fallbackMethod = "publisherFallback")
        public Publisher<String> publisherWithFallback(String s) {
            return Flux.just("live " + s);
        }

        Publisher<String> publisherFallback(String s) {
            return Flux.just("fallback " + s);
        }
    }
}
