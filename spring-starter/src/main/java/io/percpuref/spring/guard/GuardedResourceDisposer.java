package io.percpuref.spring.guard;

import io.percpuref.registry.ManagedResource;
import io.percpuref.registry.RefState;

import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import org.springframework.beans.factory.DisposableBean;

import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Stands in for a {@link GuardedResource} bean's destruction callback in the bean factory (see
 * {@link GuardedResourceRegistrar}): it never destroys the bean itself, because the resource's
 * release action does. It only makes sure the resource is killed by the time the context is gone.
 *
 * <ul>
 *   <li>{@code RELEASED}: nothing to do (the bean has been destroyed, once).</li>
 *   <li>{@code DYING}: the kill came earlier (normally from the shutdown lifecycle, which already
 *   waited and logged stragglers); the bean is destroyed when its last lease closes.</li>
 *   <li>{@code LIVE}: nobody killed it (no shutdown lifecycle, or a failed startup): kill it and wait
 *   up to the shutdown timeout for the release, then give up with a warning.</li>
 * </ul>
 */
final class GuardedResourceDisposer implements DisposableBean {

    private static final Log logger = LogFactory.getLog(GuardedResourceDisposer.class);

    private final ManagedResource<?> resource;
    private final String beanName;
    private final Duration timeout;

    GuardedResourceDisposer(ManagedResource<?> resource, String beanName, Duration timeout) {
        this.resource = resource;
        this.beanName = beanName;
        this.timeout = timeout;
    }

    @Override
    public void destroy() {
        RefState state = this.resource.state();
        if (state == RefState.DYING && logger.isDebugEnabled()) {
            logger.debug("Bean '" + this.beanName + "' (resource '" + this.resource.name() + "') is still draining with "
                    + this.resource.info().inFlight() + " lease(s) in flight; it is destroyed when the last one closes");
        }
        if (state != RefState.LIVE) {
            return;
        }
        try {
            this.resource.kill();
        }
        catch (IllegalStateException killedMeanwhile) {
            return;
        }
        try {
            this.resource.released().toCompletableFuture().get(this.timeout.toNanos(), TimeUnit.NANOSECONDS);
        }
        catch (TimeoutException e) {
            logger.warn("Bean '" + this.beanName + "' (resource '" + this.resource.name() + "') did not drain within "
                    + this.timeout + ": " + this.resource.info().inFlight()
                    + " lease(s) still in flight; it is destroyed when the last one closes");
        }
        catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        catch (ExecutionException e) {
            throw new IllegalStateException("a released() stage never completes exceptionally", e);
        }
    }
}
