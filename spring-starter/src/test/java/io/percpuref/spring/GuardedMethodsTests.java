package io.percpuref.spring;

import io.percpuref.ResourceUnavailableException;
import io.percpuref.registry.Lease;
import io.percpuref.registry.ManagedResource;
import io.percpuref.registry.RefRegistry;
import io.percpuref.spring.autoconfigure.PercpuRefAutoConfiguration;
import org.aspectj.lang.ProceedingJoinPoint;
import org.aspectj.lang.annotation.Around;
import org.aspectj.lang.annotation.Aspect;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.springframework.aop.support.AopUtils;
import org.springframework.beans.factory.BeanCreationException;
import org.springframework.beans.factory.SmartInitializingSingleton;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.autoconfigure.aop.AopAutoConfiguration;
import org.springframework.boot.test.context.assertj.AssertableApplicationContext;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Import;
import org.springframework.core.annotation.Order;
import org.springframework.resilience.annotation.ConcurrencyLimit;
import org.springframework.resilience.annotation.EnableResilientMethods;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** {@code @Guarded} on ordinary and {@code CompletionStage} methods, fallbacks, proxies and advisor order. */
class GuardedMethodsTests {

    private final ApplicationContextRunner runner = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(PercpuRefAutoConfiguration.class))
            .withUserConfiguration(Resources.class);

    @Test
    void callHoldsALeaseWhileItRuns() {
        this.runner.run(context -> {
            ManagedResource<?> db = db(context);
            long during = service(context).inFlightDuringCall(() -> db.info().inFlight());
            assertThat(during).isEqualTo(1);
            assertThat(db.info().inFlight()).isZero();
        });
    }

    @Test
    void callAfterKillIsRefusedWithoutRunningTheMethod() {
        this.runner.run(context -> {
            Service service = service(context);
            db(context).kill();
            assertThatThrownBy(() -> service.echo("x"))
                    .isInstanceOf(ResourceUnavailableException.class)
                    .hasMessageContaining("'db'")
                    .satisfies(e -> assertThat(((ResourceUnavailableException) e).resourceName()).isEqualTo("db"));
            assertThat(service.calls()).isEmpty();
        });
    }

    @Test
    void exceptionOfTheMethodPropagatesAndTheLeaseIsClosed() {
        this.runner.run(context -> {
            assertThatThrownBy(() -> service(context).fail()).isInstanceOf(IllegalArgumentException.class);
            assertThat(db(context).info().inFlight()).isZero();
        });
    }

    @Test
    void typoInAGuardedResourceNameFailsStartup() {
        this.runner.withUserConfiguration(UnknownName.class).run(context -> assertThat(context).hasFailed()
                .getFailure().isInstanceOf(IllegalStateException.class).hasMessageContaining("'nobody'")
                .hasMessageContaining("UnknownNameService.call()")
                .hasMessageContaining("percpu-ref.guard.unknown-resource=warn"));
    }

    @Test
    @ExtendWith(OutputCaptureExtension.class)
    void unknownResourceNameOnlyWarnsWhenRelaxedAndIsRefusedAsReleased(CapturedOutput output) {
        this.runner.withUserConfiguration(UnknownName.class)
                .withPropertyValues("percpu-ref.guard.unknown-resource=warn").run(context -> {
                    assertThat(context).hasNotFailed();
                    assertThat(output).contains("'nobody'").contains("UnknownNameService.call()");
                    RefRegistry registry = context.getBean(RefRegistry.class);
                    long before = registry.rejectionCount();
                    assertThatThrownBy(() -> context.getBean(UnknownNameService.class).call())
                            .isInstanceOfSatisfying(ResourceUnavailableException.class,
                                    e -> assertThat(e.resourceState()).isEqualTo("RELEASED"));
                    assertThat(registry.rejectionCount()).as("a refusal of a never registered name counts")
                            .isEqualTo(before + 1);
                });
    }

    @Test
    void resourceRegisteredBeforeTheRefreshEndsIsNotUnknown() {
        this.runner.withUserConfiguration(LateRegistration.class).run(context -> {
            assertThat(context).hasNotFailed();
            assertThat(context.getBean(LateService.class).call()).isEqualTo("late");
        });
    }

    @Test
    void everyRefusalIsCountedInRejectionsAlsoAfterTheRelease() {
        this.runner.run(context -> {
            RefRegistry registry = context.getBean(RefRegistry.class);
            Lease<?> holder = db(context).acquire();
            db(context).kill();
            long before = registry.rejectionCount();
            assertThatThrownBy(() -> service(context).echo("dying")).isInstanceOf(ResourceUnavailableException.class);
            assertThat(registry.rejectionCount()).isEqualTo(before + 1);
            holder.close();
            await().until(() -> registry.find("db").isEmpty());
            assertThatThrownBy(() -> service(context).echo("released"))
                    .isInstanceOfSatisfying(ResourceUnavailableException.class,
                            e -> assertThat(e.resourceState()).isEqualTo("RELEASED"));
            assertThat(registry.rejectionCount()).isEqualTo(before + 2);
        });
    }

    @Test
    void resourceNamePlaceholdersAreResolved() {
        this.runner.withPropertyValues("test.resource=db").run(context -> {
            assertThat(service(context).placeholder()).isEqualTo("placeholder");
            db(context).kill();
            assertThatThrownBy(() -> service(context).placeholder()).isInstanceOf(ResourceUnavailableException.class);
        });
    }

    @Test
    void refusedCallGoesToTheFallbackWithTheException() {
        this.runner.run(context -> {
            Lease<?> holder = db(context).acquire(); // keeps "db" DYING (not yet RELEASED) after the kill
            db(context).kill();
            assertThat(service(context).withFallback("x")).isEqualTo("fallback x DYING");
            holder.close();
        });
    }

    @Test
    void refusedCallGoesToAFallbackWithoutTheException() {
        this.runner.run(context -> {
            db(context).kill();
            assertThat(service(context).withPlainFallback("x")).isEqualTo("plain fallback x");
        });
    }

    @Test
    void liveCallDoesNotUseTheFallback() {
        this.runner.run(context -> assertThat(service(context).withFallback("x")).isEqualTo("live x"));
    }

    @Test
    void missingFallbackMethodFailsAtStartup() {
        this.runner.withUserConfiguration(BadFallback.class).run(context -> assertThat(context).hasFailed()
                .getFailure().isInstanceOf(BeanCreationException.class)
                .rootCause().hasMessageContaining("fallbackMethod 'nope'").hasMessageContaining("BadFallbackService.call()"));
    }

    @Test
    void fallbackOfTheWrongReturnTypeFailsAtStartup() {
        this.runner.withUserConfiguration(WrongFallbackType.class).run(context -> assertThat(context).hasFailed()
                .getFailure().rootCause().hasMessageContaining("is not assignable to java.lang.String"));
    }

    @Test
    void completionStageSubtypeThatADependentFutureCannotBeFailsAtStartup() {
        this.runner.withUserConfiguration(OwnFutureType.class).run(context -> assertThat(context).hasFailed()
                .getFailure().rootCause().hasMessageContaining("OwnFutureService.call()")
                .hasMessageContaining("declare CompletionStage or CompletableFuture"));
    }

    @Test
    void finalGuardedMethodOnAClassProxyFailsAtStartupNamingTheMethod() {
        this.runner.withUserConfiguration(FinalMethod.class).run(context -> assertThat(context).hasFailed()
                .getFailure().isInstanceOf(BeanCreationException.class).rootCause()
                .hasMessageContaining("FinalMethodService.call(String)").hasMessageContaining("final"));
    }

    @Test
    void finalMethodOfATypeLevelGuardedClassFailsAtStartupNamingTheMethod() {
        this.runner.withUserConfiguration(TypeLevelFinal.class).run(context -> assertThat(context).hasFailed()
                .getFailure().rootCause().hasMessageContaining("TypeLevelFinalService.last()")
                .hasMessageContaining("final"));
    }

    @Test
    void privateGuardedMethodFailsAtStartupNamingTheMethod() {
        this.runner.withUserConfiguration(PrivateMethod.class).run(context -> assertThat(context).hasFailed()
                .getFailure().rootCause().hasMessageContaining("PrivateMethodService.hidden()")
                .hasMessageContaining("private"));
    }

    @Test
    void typeLevelFallbackAppliesToTheMethodsItFitsAndOthersAreRefused() {
        this.runner.withUserConfiguration(TypeLevelFallback.class).run(context -> {
            assertThat(context).hasNotFailed();
            TypeLevelFallbackService service = context.getBean(TypeLevelFallbackService.class);
            assertThat(service.find("x")).isEqualTo("live x");
            db(context).kill();
            assertThat(service.find("x")).isEqualTo("fallback x");
            assertThatThrownBy(service::count).isInstanceOf(ResourceUnavailableException.class);
        });
    }

    @Test
    void typeLevelFallbackThatFitsNoMethodFailsAtStartup() {
        this.runner.withUserConfiguration(TypeLevelFallbackFitsNothing.class).run(context -> assertThat(context)
                .hasFailed().getFailure().rootCause().hasMessageContaining("fallbackMethod 'fallback'")
                .hasMessageContaining("TypeLevelFallbackFitsNothingService"));
    }

    @Test
    void bareGuardedOutsideAGuardedResourceFailsAtStartup() {
        this.runner.withUserConfiguration(BareGuarded.class).run(context -> assertThat(context).hasFailed()
                .getFailure().rootCause().hasMessageContaining("names no resource")
                .hasMessageContaining("write @Guarded(\"resource-name\")"));
    }

    @Test
    void completableFutureHoldsTheLeaseUntilItCompletes() {
        this.runner.run(context -> {
            ManagedResource<?> db = db(context);
            CompletableFuture<String> work = new CompletableFuture<>();
            CompletableFuture<String> returned = service(context).async(work);
            assertThat(db.info().inFlight()).isEqualTo(1);
            work.complete("done");
            assertThat(db.info().inFlight()).isZero();
            assertThat(returned).isCompletedWithValue("done");
        });
    }

    @Test
    void objectReturnTypeHoldingAFutureHoldsTheLeaseUntilItCompletes() {
        this.runner.run(context -> {
            CompletableFuture<String> work = new CompletableFuture<>();
            Object returned = service(context).object(work);
            assertThat(db(context).info().inFlight()).isEqualTo(1);
            work.complete("done");
            assertThat(db(context).info().inFlight()).isZero();
            assertThat(returned).isInstanceOf(CompletableFuture.class);
            assertThat(((CompletableFuture<?>) returned).getNow(null)).isEqualTo("done");
        });
    }

    @Test
    void returnedFutureIsADependentThatFailsWithTheMethodsOwnFailure() {
        this.runner.run(context -> {
            CompletableFuture<String> work = new CompletableFuture<>();
            CompletableFuture<String> returned = service(context).async(work);
            IllegalStateException boom = new IllegalStateException("boom");
            work.completeExceptionally(boom);
            assertThat(returned).isNotSameAs(work);
            assertThatThrownBy(returned::get).hasCause(boom);
            assertThat(db(context).info().inFlight()).isZero();
        });
    }

    /** What a caller may do to the future it was given. */
    enum CallerAction {
        CANCEL(f -> f.cancel(true)),
        COMPLETE(f -> f.complete(-1)),
        COMPLETE_EXCEPTIONALLY(f -> f.completeExceptionally(new IllegalStateException("caller"))),
        OR_TIMEOUT(f -> f.orTimeout(10, TimeUnit.MILLISECONDS));

        final Consumer<CompletableFuture<Integer>> action;

        CallerAction(Consumer<CompletableFuture<Integer>> action) {
            this.action = action;
        }
    }

    @ParameterizedTest
    @EnumSource(CallerAction.class)
    void callerCannotEndTheLeaseOfTheWorkTheMethodStarted(CallerAction caller) throws Exception {
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            this.runner.run(context -> {
                Db resource = context.getBean(Db.class);
                CountDownLatch gate = new CountDownLatch(1);
                CompletableFuture<Integer> started = service(context).closesSeenByWork(resource, gate, pool);
                caller.action.accept(started);
                await().atMost(Duration.ofSeconds(2)).until(started::isDone);
                db(context).kill();
                await().during(Duration.ofMillis(150)).atMost(Duration.ofSeconds(2)).until(() -> resource.closes() == 0);
                assertThat(db(context).info().inFlight()).isEqualTo(1);
                gate.countDown();
                await().atMost(Duration.ofSeconds(5)).until(() -> resource.closes() == 1);
                assertThat(service(context).closesSeen()).containsExactly(0);
            });
        }
        finally {
            pool.shutdownNow();
        }
    }

    @Test
    void completionStageFailureAlsoClosesTheLease() {
        this.runner.run(context -> {
            ManagedResource<?> db = db(context);
            CompletableFuture<String> work = new CompletableFuture<>();
            service(context).stage(work);
            work.completeExceptionally(new IllegalStateException("boom"));
            assertThat(db.info().inFlight()).isZero();
        });
    }

    @Test
    void refusedAsyncCallIsAFailedFutureNotAThrow() {
        this.runner.run(context -> {
            db(context).kill();
            CompletableFuture<String> returned = service(context).async(new CompletableFuture<>());
            assertThat(returned).isCompletedExceptionally();
            assertThatThrownBy(returned::join).hasCauseInstanceOf(ResourceUnavailableException.class);
            CompletionStage<String> stage = service(context).stage(new CompletableFuture<>());
            assertThat(stage.toCompletableFuture()).isCompletedExceptionally();
        });
    }

    @Test
    void killWaitsForAnAsyncCallBeforeTheRelease() {
        this.runner.run(context -> {
            Db resource = context.getBean(Db.class);
            CompletableFuture<String> work = new CompletableFuture<>();
            service(context).async(work);
            db(context).kill();
            await().during(Duration.ofMillis(150)).atMost(Duration.ofSeconds(2)).until(() -> resource.closes() == 0);
            work.complete("done");
            await().atMost(Duration.ofSeconds(5)).until(() -> resource.closes() == 1);
        });
    }

    @Test
    void beanWithoutInterfacesIsACglibProxy() {
        this.runner.run(context -> assertThat(AopUtils.isCglibProxy(service(context))).isTrue());
    }

    @Test
    void interfaceBeanIsAJdkProxyAndTheAnnotationOnTheImplementationApplies() {
        this.runner.withUserConfiguration(InterfaceBean.class).run(context -> {
            Echo echo = context.getBean(Echo.class);
            assertThat(AopUtils.isJdkDynamicProxy(echo)).isTrue();
            assertThat(echo.echo("x")).isEqualTo("echo x");
            db(context).kill();
            assertThatThrownBy(() -> echo.echo("y")).isInstanceOf(ResourceUnavailableException.class);
        });
    }

    @Test
    void interfaceBeanIsACglibProxyWithBootsDefaultProxyConfiguration() {
        this.runner.withConfiguration(AutoConfigurations.of(AopAutoConfiguration.class))
                .withUserConfiguration(InterfaceBean.class).run(context -> {
                    Echo echo = context.getBean(Echo.class);
                    assertThat(AopUtils.isCglibProxy(echo)).isTrue();
                    db(context).kill();
                    assertThatThrownBy(() -> echo.echo("y")).isInstanceOf(ResourceUnavailableException.class);
                });
    }

    @Test
    void interfaceBeanIsAJdkProxyWhenBootIsToldSo() {
        this.runner.withConfiguration(AutoConfigurations.of(AopAutoConfiguration.class))
                .withPropertyValues("spring.aop.proxy-target-class=false")
                .withUserConfiguration(InterfaceBean.class, RecordingAspect.class).run(context -> {
                    Echo echo = context.getBean(Echo.class);
                    assertThat(AopUtils.isJdkDynamicProxy(echo)).isTrue();
                    assertThat(echo.echo("x")).isEqualTo("echo x");
                    db(context).kill();
                    assertThatThrownBy(() -> echo.echo("y")).isInstanceOf(ResourceUnavailableException.class);
                });
    }

    @Test
    void guardRunsOutsideAnAspectOfHigherOrder() {
        this.runner.withConfiguration(AutoConfigurations.of(AopAutoConfiguration.class))
                .withUserConfiguration(RecordingAspect.class).run(context -> {
                    RecordingAspect aspect = context.getBean(RecordingAspect.class);
                    db(context).kill();
                    assertThatThrownBy(() -> service(context).echo("x")).isInstanceOf(ResourceUnavailableException.class);
                    assertThat(aspect.seen()).isEmpty();
                });
    }

    @Test
    void guardOrderPutsTheGuardInsideAnAspectOfLowerOrder() {
        this.runner.withConfiguration(AutoConfigurations.of(AopAutoConfiguration.class))
                .withPropertyValues("percpu-ref.guard.order=100")
                .withUserConfiguration(RecordingAspect.class).run(context -> {
                    RecordingAspect aspect = context.getBean(RecordingAspect.class);
                    db(context).kill();
                    assertThatThrownBy(() -> service(context).echo("x")).isInstanceOf(ResourceUnavailableException.class);
                    assertThat(aspect.seen()).containsExactly("echo");
                });
    }

    @Test
    void guardRunsOutsideConcurrencyLimitByDefault() throws Exception {
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            this.runner.withUserConfiguration(Limited.class).run(context -> {
                LimitedService limited = context.getBean(LimitedService.class);
                CountDownLatch entered = new CountDownLatch(1);
                CountDownLatch gate = new CountDownLatch(1);
                Future<String> holder = pool.submit(() -> limited.call(entered, gate));
                assertThat(entered.await(5, TimeUnit.SECONDS)).isTrue();
                db(context).kill();
                // Refused at once: the guard runs before the concurrency limit would make it wait.
                CompletableFuture<String> refused = CompletableFuture.supplyAsync(
                        () -> limited.call(new CountDownLatch(1), new CountDownLatch(0)));
                assertThatThrownBy(() -> refused.get(2, TimeUnit.SECONDS))
                        .hasCauseInstanceOf(ResourceUnavailableException.class);
                gate.countDown();
                assertThat(holder.get(5, TimeUnit.SECONDS)).isEqualTo("done");
            });
        }
        finally {
            pool.shutdownNow();
        }
    }

    @Test
    void guardOrderCanPutTheGuardInsideConcurrencyLimit() throws Exception {
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            this.runner.withUserConfiguration(Limited.class).withPropertyValues("percpu-ref.guard.order=2147483647")
                    .run(context -> {
                        LimitedService limited = context.getBean(LimitedService.class);
                        CountDownLatch entered = new CountDownLatch(1);
                        CountDownLatch gate = new CountDownLatch(1);
                        Future<String> holder = pool.submit(() -> limited.call(entered, gate));
                        assertThat(entered.await(5, TimeUnit.SECONDS)).isTrue();
                        db(context).kill();
                        CompletableFuture<String> waiting = CompletableFuture.supplyAsync(
                                () -> limited.call(new CountDownLatch(1), new CountDownLatch(0)));
                        // It queues for the permit first, and is refused only once it gets it.
                        await().during(Duration.ofMillis(200)).atMost(Duration.ofSeconds(2)).until(() -> !waiting.isDone());
                        gate.countDown();
                        assertThat(holder.get(5, TimeUnit.SECONDS)).isEqualTo("done");
                        assertThatThrownBy(() -> waiting.get(5, TimeUnit.SECONDS))
                                .hasCauseInstanceOf(ResourceUnavailableException.class);
                    });
        }
        finally {
            pool.shutdownNow();
        }
    }

    static Service service(AssertableApplicationContext context) {
        return context.getBean(Service.class);
    }

    static ManagedResource<?> db(AssertableApplicationContext context) {
        return context.getBean(RefRegistry.class).find("db").orElseThrow();
    }

    /** The resource "db" and a service guarded by it. */
    @Configuration(proxyBeanMethods = false)
    static class Resources {
        @Bean
        Db db() {
            return new Db();
        }

        @Bean
        Service service() {
            return new Service();
        }
    }

    /** Public, like every proxied fixture here: CGLIB subclasses it in a filtering class loader too. */
    @GuardedResource(name = "db")
    public static class Db implements AutoCloseable {
        private final AtomicInteger closes = new AtomicInteger();

        /** How often it was closed (a method: fields of a CGLIB proxy are not the target's). */
        public int closes() {
            return this.closes.get();
        }

        @Override
        public void close() {
            this.closes.incrementAndGet();
        }
    }

    public static class Service {
        private final List<String> calls = new CopyOnWriteArrayList<>();

        /** The arguments of the echo calls that ran. */
        public List<String> calls() {
            return this.calls;
        }

        @Guarded("db")
        public String echo(String s) {
            this.calls.add(s);
            return "echo " + s;
        }

        @Guarded("db")
        public long inFlightDuringCall(LongSupplier probe) {
            return probe.getAsLong();
        }

        @Guarded("db")
        public String fail() {
            throw new IllegalArgumentException("boom");
        }

        @Guarded("${test.resource:db}")
        public String placeholder() {
            return "placeholder";
        }

        @Guarded(value = "db", fallbackMethod = "fallback")
        public String withFallback(String s) {
            return "live " + s;
        }

        String fallback(String s, ResourceUnavailableException e) {
            return "fallback " + s + " " + e.resourceState();
        }

        @Guarded(value = "db", fallbackMethod = "plainFallback")
        public String withPlainFallback(String s) {
            return "live " + s;
        }

        private String plainFallback(String s) {
            return "plain fallback " + s;
        }

        @Guarded("db")
        public CompletableFuture<String> async(CompletableFuture<String> work) {
            return work;
        }

        @Guarded("db")
        public CompletionStage<String> stage(CompletionStage<String> work) {
            return work;
        }

        @Guarded("db")
        public Object object(Object result) {
            return result;
        }

        private final List<Integer> closesSeen = new CopyOnWriteArrayList<>();

        /** What {@link #closesSeenByWork} saw: the resource's close count when its work ran. */
        public List<Integer> closesSeen() {
            return this.closesSeen;
        }

        /** Starts work on {@code pool} that waits for {@code gate}, then records how often {@code db} was closed. */
        @Guarded("db")
        public CompletableFuture<Integer> closesSeenByWork(Db db, CountDownLatch gate, Executor pool) {
            return CompletableFuture.supplyAsync(() -> {
                try {
                    gate.await(10, TimeUnit.SECONDS);
                }
                catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                this.closesSeen.add(db.closes());
                return db.closes();
            }, pool);
        }
    }

    interface Echo {
        String echo(String s);
    }

    static class EchoImpl implements Echo {
        @Override
        @Guarded("db")
        public String echo(String s) {
            return "echo " + s;
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class InterfaceBean {
        @Bean
        Echo echo() {
            return new EchoImpl();
        }
    }

    /** Records the guarded calls it sees; order 10. */
    @Aspect
    @Order(10)
    static class RecordingAspect {
        private final List<String> seen = new CopyOnWriteArrayList<>();

        List<String> seen() {
            return this.seen;
        }

        @Around("@annotation(io.percpuref.spring.Guarded)")
        public Object record(ProceedingJoinPoint call) throws Throwable {
            this.seen.add(call.getSignature().getName());
            return call.proceed();
        }
    }

    @Configuration(proxyBeanMethods = false)
    @EnableResilientMethods
    static class Limited {
        @Bean
        LimitedService limitedService() {
            return new LimitedService();
        }
    }

    static class LimitedService {
        @Guarded("db")
        @ConcurrencyLimit(1)
        public String call(CountDownLatch entered, CountDownLatch gate) {
            entered.countDown();
            try {
                gate.await();
            }
            catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return "done";
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class BadFallback {
        @Bean
        BadFallbackService badFallbackService() {
            return new BadFallbackService();
        }
    }

    static class BadFallbackService {
        @Guarded(value = "db", fallbackMethod = "nope")
        public String call() {
            return "x";
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class WrongFallbackType {
        @Bean
        WrongFallbackService wrongFallbackService() {
            return new WrongFallbackService();
        }
    }

    static class WrongFallbackService {
        @Guarded(value = "db", fallbackMethod = "number")
        public String call() {
            return "x";
        }

        Integer number() {
            return 1;
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class OwnFutureType {
        @Bean
        OwnFutureService ownFutureService() {
            return new OwnFutureService();
        }
    }

    static class OwnFuture<T> extends CompletableFuture<T> {
    }

    static class OwnFutureService {
        @Guarded("db")
        public OwnFuture<String> call() {
            return new OwnFuture<>();
        }
    }

    @Configuration(proxyBeanMethods = false)
    @Import(UnknownNameService.class)
    static class UnknownName {
    }

    static class UnknownNameService {
        @Guarded("nobody")
        public String call() {
            return "unreachable";
        }
    }

    /** Registers "late" programmatically once the singletons exist, before the refresh ends. */
    @Configuration(proxyBeanMethods = false)
    @Import(LateService.class)
    static class LateRegistration {
        @Bean
        SmartInitializingSingleton lateRegistrar(RefRegistry registry) {
            return () -> registry.register("late", new Object(), r -> { });
        }
    }

    static class LateService {
        @Guarded("late")
        public String call() {
            return "late";
        }
    }

    @Configuration(proxyBeanMethods = false)
    @Import(TypeLevelFallbackService.class)
    static class TypeLevelFallback {
    }

    @Guarded(value = "db", fallbackMethod = "fallback")
    static class TypeLevelFallbackService {
        public String find(String q) {
            return "live " + helper(q);
        }

        public int count() {
            return 1;
        }

        String fallback(String q, ResourceUnavailableException e) {
            return "fallback " + q;
        }

        private String helper(String q) {
            return q;
        }
    }

    @Configuration(proxyBeanMethods = false)
    @Import(TypeLevelFallbackFitsNothingService.class)
    static class TypeLevelFallbackFitsNothing {
    }

    @Guarded(value = "db", fallbackMethod = "fallback")
    static class TypeLevelFallbackFitsNothingService {
        public String find(String q) {
            return "live " + q;
        }

        String fallback(int nothingTakesThis) {
            return "fallback";
        }
    }

    @Configuration(proxyBeanMethods = false)
    @Import(FinalMethodService.class)
    static class FinalMethod {
    }

    static class FinalMethodService {
        @Guarded("db")
        public final String call(String s) {
            return s;
        }
    }

    @Configuration(proxyBeanMethods = false)
    @Import(TypeLevelFinalService.class)
    static class TypeLevelFinal {
    }

    @Guarded("db")
    static class TypeLevelFinalService {
        public String first() {
            return "first";
        }

        public final String last() {
            return "last";
        }
    }

    @Configuration(proxyBeanMethods = false)
    @Import(PrivateMethodService.class)
    static class PrivateMethod {
    }

    static class PrivateMethodService {
        public String visible() {
            return hidden();
        }

        @Guarded("db")
        private String hidden() {
            return "hidden";
        }
    }

    @Configuration(proxyBeanMethods = false)
    @Import(BareGuardedService.class)
    static class BareGuarded {
    }

    static class BareGuardedService {
        @Guarded
        public String call() {
            return "x";
        }
    }
}
