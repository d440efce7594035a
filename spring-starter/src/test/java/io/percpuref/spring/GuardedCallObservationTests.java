package io.percpuref.spring;

import io.micrometer.common.KeyValues;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.observation.DefaultMeterObservationHandler;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.micrometer.observation.Observation;
import io.micrometer.observation.ObservationRegistry;
import io.micrometer.observation.tck.TestObservationRegistry;
import io.percpuref.ResourceUnavailableException;
import io.percpuref.registry.ManagedResource;
import io.percpuref.registry.RefRegistry;
import io.percpuref.spring.autoconfigure.PercpuRefAutoConfiguration;
import io.percpuref.spring.guard.ObservationGuardObserver;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.FilteredClassLoader;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.ApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.test.StepVerifier;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;

import static io.micrometer.observation.tck.TestObservationRegistryAssert.assertThat;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The Observation of each guarded call ({@code percpu.guarded.call}, keys {@code resource} and
 * {@code outcome}): one test per condition of its auto-configuration, then what is observed for
 * each return type and outcome, on a {@link TestObservationRegistry} (which also fails a test on
 * an invalid observation lifecycle, such as a second stop).
 */
class GuardedCallObservationTests {

    private static final String NAME = "percpu.guarded.call";

    private final ApplicationContextRunner runner = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(PercpuRefAutoConfiguration.class))
            .withUserConfiguration(Services.class);

    private final ApplicationContextRunner observed = this.runner.withBean(TestObservationRegistry.class,
            TestObservationRegistry::create);

    // --- conditions ---------------------------------------------------------------------------

    @Test
    void callsAreObservedInTheApplicationsObservationRegistry() {
        this.observed.run(context -> {
            assertThat(context).hasSingleBean(ObservationGuardObserver.class);
            assertThat(service(context).echo("a")).isEqualTo("echo a");
            assertThat(observations(context)).hasNumberOfObservationsWithNameEqualTo(NAME, 1);
        });
    }

    @Test
    void withoutAnObservationRegistryBeanCallsAreGuardedAndNotObserved() {
        this.runner.run(context -> {
            assertThat(context).hasSingleBean(ObservationGuardObserver.class).doesNotHaveBean(ObservationRegistry.class);
            assertThat(service(context).echo("a")).isEqualTo("echo a");
            db(context).kill();
            assertThatThrownBy(() -> service(context).echo("b")).isInstanceOf(ResourceUnavailableException.class);
        });
    }

    @Test
    void withoutMicrometerObservationOnTheClassPathThereIsNoObserverAndCallsAreGuarded() {
        this.runner.withClassLoader(new FilteredClassLoader(ObservationRegistry.class)).run(context -> {
            assertThat(context).hasNotFailed().doesNotHaveBean(ObservationGuardObserver.class);
            assertThat(service(context).echo("a")).isEqualTo("echo a");
            db(context).kill();
            assertThatThrownBy(() -> service(context).echo("b")).isInstanceOf(ResourceUnavailableException.class);
        });
    }

    @Test
    void propertyOffSwitchesObservationsOff() {
        this.observed.withPropertyValues("percpu-ref.guard.observations.enabled=false").run(context -> {
            assertThat(context).doesNotHaveBean(ObservationGuardObserver.class);
            assertThat(service(context).echo("a")).isEqualTo("echo a");
            assertThat(observations(context)).doesNotHaveAnyObservation();
        });
    }

    @Test
    void theNoopRegistryStartsNothing() {
        ObservationGuardObserver observer = new ObservationGuardObserver(() -> ObservationRegistry.NOOP, () -> null);
        assertThat(observer.start("default", "db", Object.class.getMethods()[0], Object.class)).isNull();
    }

    @Test
    void aRegistryWithoutHandlersStartsNothing() {
        ObservationGuardObserver observer = new ObservationGuardObserver(ObservationRegistry::create, () -> null);
        assertThat(observer.start("default", "db", Object.class.getMethods()[0], Object.class)).isNull();
    }

    @Test
    void anApplicationConventionReplacesTheDefault() {
        this.observed.withBean(GuardedCallObservationConvention.class, ExtendedConvention::new).run(context -> {
            service(context).echo("a");
            assertThat(observations(context)).hasSingleObservationThat().hasNameEqualTo(NAME)
                    .hasLowCardinalityKeyValue("resource", "db").hasLowCardinalityKeyValue("outcome", "success")
                    .hasLowCardinalityKeyValue("registry", "default")
                    .hasLowCardinalityKeyValue("team", "storage");
        });
    }

    // --- synchronous calls --------------------------------------------------------------------

    @Test
    void synchronousSuccess() {
        this.observed.run(context -> {
            service(context).echo("a");
            assertThat(observations(context)).hasSingleObservationThat().hasNameEqualTo(NAME)
                    .hasContextualNameEqualTo("guarded db")
                    .hasLowCardinalityKeyValue("resource", "db").hasLowCardinalityKeyValue("outcome", "success")
                    .hasLowCardinalityKeyValue("registry", "default")
                    .hasHighCardinalityKeyValue("method", "GuardedCallObservationTests.ObservedService.echo(String)")
                    .doesNotHaveError().hasBeenStarted().hasBeenStopped();
        });
    }

    @Test
    void theRegistryKeyIsTheRegistrysName() {
        this.observed.withBean(RefRegistry.class, () -> RefRegistry.builder().name("orders").build()).run(context -> {
            service(context).echo("a");
            assertThat(observations(context)).hasSingleObservationThat().hasLowCardinalityKeyValue("registry", "orders");
        });
    }

    @Test
    void theCallsObservationIsCurrentWhileTheMethodRuns() {
        this.observed.run(context -> {
            assertThat(service(context).currentObservation()).isEqualTo(GuardedCallContext.class.getSimpleName());
            assertThat(observations(context).getCurrentObservation()).isNull();
        });
    }

    @Test
    void synchronousRefusal() {
        this.observed.run(context -> {
            db(context).kill();
            assertThatThrownBy(() -> service(context).echo("a")).isInstanceOf(ResourceUnavailableException.class);
            assertThat(observations(context)).hasSingleObservationThat().hasNameEqualTo(NAME)
                    .hasLowCardinalityKeyValue("resource", "db").hasLowCardinalityKeyValue("outcome", "refused")
                    .hasBeenStopped().assertThatError().isInstanceOf(ResourceUnavailableException.class);
        });
    }

    @Test
    void aRefusalAnsweredByTheFallbackIsRefused() {
        this.observed.run(context -> {
            db(context).kill();
            assertThat(service(context).withFallback("a")).isEqualTo("fallback a");
            assertThat(observations(context)).hasSingleObservationThat()
                    .hasLowCardinalityKeyValue("outcome", "refused").hasBeenStopped();
        });
    }

    @Test
    void synchronousError() {
        this.observed.run(context -> {
            assertThatThrownBy(() -> service(context).fail("boom")).hasMessage("boom");
            assertThat(observations(context)).hasSingleObservationThat()
                    .hasLowCardinalityKeyValue("resource", "db").hasLowCardinalityKeyValue("outcome", "error")
                    .hasBeenStopped().assertThatError().hasMessage("boom");
        });
    }

    // --- CompletionStage ----------------------------------------------------------------------

    @Test
    void stageIsObservedUntilItCompletes() {
        this.observed.run(context -> {
            CompletableFuture<String> work = new CompletableFuture<>();
            CompletableFuture<String> result = service(context).async(work);
            assertThat(observations(context)).hasSingleObservationThat().hasBeenStarted().isNotStopped()
                    .doesNotHaveLowCardinalityKeyValueWithKey("outcome");
            work.complete("v");
            assertThat(result).isCompletedWithValue("v");
            assertThat(observations(context)).hasSingleObservationThat()
                    .hasLowCardinalityKeyValue("outcome", "success").hasBeenStopped();
        });
    }

    @Test
    void exceptionallyCompletedStageIsAnError() {
        this.observed.run(context -> {
            CompletableFuture<String> work = new CompletableFuture<>();
            CompletableFuture<String> result = service(context).async(work);
            work.completeExceptionally(new IllegalStateException("late boom"));
            assertThat(result).isCompletedExceptionally();
            assertThat(observations(context)).hasSingleObservationThat()
                    .hasLowCardinalityKeyValue("outcome", "error").hasBeenStopped()
                    .assertThatError().hasMessage("late boom");
        });
    }

    @Test
    void refusedStageIsRefused() {
        this.observed.run(context -> {
            db(context).kill();
            assertThat(service(context).async(new CompletableFuture<>())).isCompletedExceptionally();
            assertThat(observations(context)).hasSingleObservationThat()
                    .hasLowCardinalityKeyValue("outcome", "refused").hasBeenStopped();
        });
    }

    @Test
    void stageReturnedByAnObjectMethodIsObservedUntilItCompletes() {
        this.observed.run(context -> {
            CompletableFuture<String> work = new CompletableFuture<>();
            Object result = service(context).dynamic(work);
            assertThat(observations(context)).hasSingleObservationThat().isNotStopped();
            work.completeExceptionally(new IllegalStateException("late boom"));
            assertThat(result).isInstanceOfSatisfying(CompletableFuture.class,
                    f -> assertThat(f).isCompletedExceptionally());
            assertThat(observations(context)).hasSingleObservationThat()
                    .hasLowCardinalityKeyValue("outcome", "error").hasBeenStopped();
        });
    }

    // --- Reactor ------------------------------------------------------------------------------

    @Test
    void refusedSubscriptionAnsweredByTheFallbackIsRefused() {
        this.observed.run(context -> {
            Mono<String> mono = service(context).monoWithFallback("x");
            db(context).kill();
            StepVerifier.create(mono).expectNext("fallback x").verifyComplete();
            assertThat(observations(context)).hasSingleObservationThat()
                    .hasLowCardinalityKeyValue("outcome", "refused").hasBeenStopped();
        });
    }

    @Test
    void monoSubscriptionIsObservedFromSubscribeToCompletion() {
        this.observed.run(context -> {
            Sinks.One<String> sink = Sinks.one();
            Mono<String> mono = service(context).mono(sink.asMono());
            assertThat(observations(context)).as("assembled, not subscribed").doesNotHaveAnyObservation();
            StepVerifier.create(mono)
                    .then(() -> assertThat(observations(context)).hasSingleObservationThat().isNotStopped())
                    .then(() -> sink.tryEmitValue("v"))
                    .expectNext("v")
                    .verifyComplete();
            assertThat(observations(context)).hasSingleObservationThat().hasNameEqualTo(NAME)
                    .hasLowCardinalityKeyValue("resource", "db").hasLowCardinalityKeyValue("outcome", "success")
                    .hasLowCardinalityKeyValue("registry", "default")
                    .hasBeenStopped();
        });
    }

    @Test
    void monoErrorIsAnError() {
        this.observed.run(context -> {
            StepVerifier.create(service(context).mono(Mono.error(new IllegalStateException("boom"))))
                    .verifyErrorMessage("boom");
            assertThat(observations(context)).hasSingleObservationThat()
                    .hasLowCardinalityKeyValue("outcome", "error").hasBeenStopped().assertThatError().hasMessage("boom");
        });
    }

    @Test
    void fluxIsObservedPerSubscriptionAndCancelIsSuccess() {
        this.observed.run(context -> {
            Flux<Long> flux = service(context).flux(Flux.never());
            Disposable first = flux.subscribe();
            Disposable second = flux.subscribe();
            assertThat(observations(context)).hasNumberOfObservationsWithNameEqualTo(NAME, 2);
            first.dispose();
            second.dispose();
            assertThat(observations(context)).forAllObservationsWithNameEqualTo(NAME, observation -> observation
                    .hasLowCardinalityKeyValue("outcome", "success"))
                    .hasHandledContextsThatSatisfy(contexts -> assertThat(contexts).hasSize(2).allSatisfy(c ->
                            assertThat(((GuardedCallContext) c).getOutcome()).isEqualTo(GuardedCallContext.Outcome.SUCCESS)));
        });
    }

    @Test
    void fluxSubscriptionAfterTheKillIsRefused() {
        this.observed.run(context -> {
            Flux<Long> flux = service(context).flux(Flux.just(1L, 2L));
            db(context).kill();
            StepVerifier.create(flux).verifyError(ResourceUnavailableException.class);
            assertThat(observations(context)).hasSingleObservationThat()
                    .hasLowCardinalityKeyValue("outcome", "refused").hasBeenStopped();
        });
    }

    @Test
    void reactiveCallRefusedAtAssemblyIsOneRefusedCall() {
        this.observed.run(context -> {
            db(context).kill();
            StepVerifier.create(service(context).mono(Mono.just("v"))).verifyError(ResourceUnavailableException.class);
            assertThat(observations(context)).hasSingleObservationThat()
                    .hasLowCardinalityKeyValue("outcome", "refused").hasBeenStopped();
        });
    }

    // --- meters -------------------------------------------------------------------------------

    @Test
    void meterHandlerRecordsATimerPerResourceAndOutcome() {
        SimpleMeterRegistry meters = new SimpleMeterRegistry();
        this.runner.withBean(ObservationRegistry.class, () -> {
            ObservationRegistry registry = ObservationRegistry.create();
            registry.observationConfig().observationHandler(new DefaultMeterObservationHandler(meters));
            return registry;
        }).run(context -> {
            service(context).echo("a");
            service(context).echo("b");
            db(context).kill();
            assertThatThrownBy(() -> service(context).echo("c")).isInstanceOf(ResourceUnavailableException.class);
            assertThat(timerCount(meters, "success")).isEqualTo(2);
            assertThat(timerCount(meters, "refused")).isEqualTo(1);
            assertThat(meters.find(NAME).tag("outcome", "error").timer()).isNull();
            assertThat(meters.get(NAME + ".active").tag("resource", "db").longTaskTimer().activeTasks()).isZero();
        });
    }

    // ------------------------------------------------------------------------------------------

    private static long timerCount(MeterRegistry meters, String outcome) {
        return meters.get(NAME).tag("resource", "db").tag("outcome", outcome).timer().count();
    }

    private static TestObservationRegistry observations(ApplicationContext context) {
        return context.getBean(TestObservationRegistry.class);
    }

    private static ObservedService service(ApplicationContext context) {
        return context.getBean(ObservedService.class);
    }

    private static ManagedResource<?> db(ApplicationContext context) {
        return context.getBean(RefRegistry.class).find("db").orElseThrow();
    }

    @Configuration(proxyBeanMethods = false)
    static class Services {
        @Bean
        GuardedMethodsTests.Db db() {
            return new GuardedMethodsTests.Db();
        }

        @Bean
        ObservedService observedService(ApplicationContext context) {
            return new ObservedService(context);
        }
    }

    /** Adds a key to the default ones. */
    static class ExtendedConvention extends DefaultGuardedCallObservationConvention {
        @Override
        public KeyValues getLowCardinalityKeyValues(GuardedCallContext context) {
            return super.getLowCardinalityKeyValues(context).and("team", "storage");
        }
    }

    /** Guarded by "db": every return type the guard knows. Public: CGLIB subclasses it. */
    public static class ObservedService {
        private final ApplicationContext context;

        public ObservedService(ApplicationContext context) {
            this.context = context;
        }

        @Guarded("db")
        public String echo(String s) {
            return "echo " + s;
        }

        @Guarded("db")
        public String fail(String message) {
            throw new IllegalStateException(message);
        }

        /** The simple name of the context of the current observation, seen from inside the call. */
        @Guarded("db")
        public String currentObservation() {
            Observation current = this.context.getBean(ObservationRegistry.class).getCurrentObservation();
            return current == null ? "none" : current.getContext().getClass().getSimpleName();
        }

        @Guarded(value = "db", fallbackMethod = "fallback")
        public String withFallback(String s) {
            return "echo " + s;
        }

        String fallback(String s) {
            return "fallback " + s;
        }

        @Guarded("db")
        public CompletableFuture<String> async(CompletableFuture<String> work) {
            return work;
        }

        @Guarded("db")
        public Object dynamic(Object value) {
            return value;
        }

        @Guarded(value = "db", fallbackMethod = "monoFallback")
        public Mono<String> monoWithFallback(String s) {
            return Mono.just("echo " + s);
        }

        Mono<String> monoFallback(String s) {
            return Mono.just("fallback " + s);
        }

        @Guarded("db")
        public Mono<String> mono(Mono<String> work) {
            return work;
        }

        @Guarded("db")
        public Flux<Long> flux(Flux<Long> work) {
            return work;
        }
    }
}
