package io.percpuref.spring;

import io.percpuref.ResourceUnavailableException;
import io.percpuref.registry.ManagedResource;
import io.percpuref.registry.RefRegistry;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.test.StepVerifier;

import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

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
            org.awaitility.Awaitility.await().until(() -> context.getBean(GuardedMethodsTests.Db.class).closes() == 1);
            assertThat(sum).hasValue(1);
        });
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
    }
}
