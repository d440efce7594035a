package io.percpuref.spring;

import io.percpuref.ResourceUnavailableException;

import org.springframework.core.annotation.Order;
import org.springframework.http.HttpStatus;
import org.springframework.http.ProblemDetail;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.RestControllerAdvice;

/**
 * Answers a {@link ResourceUnavailableException} that escapes a controller (a guarded call refused
 * because its resource is dying or released) with {@code 503 Service Unavailable} and an RFC 9457
 * problem detail:
 *
 * <pre>
 * HTTP/1.1 503
 * Content-Type: application/problem+json
 *
 * {"detail":"resource 'index' is unavailable (DYING)","instance":"/search","status":503,
 *  "title":"Resource unavailable","resource":"index","state":"DYING"}
 * </pre>
 *
 * Works for Spring MVC and WebFlux, also when the exception completes a returned
 * {@code CompletableFuture} or {@code Mono}. Auto-configured in web applications unless
 * {@code percpu-ref.web.exception-handler=false} or you define a bean of this type. Its order is
 * {@code 0}, like Spring Boot's own problem-details handler: it runs before advice of default order
 * (a catch-all {@code @ExceptionHandler(Exception.class)} of yours does not turn the 503 into a
 * 500); give your own handler a lower order, or switch this one off, to answer differently.
 */
@RestControllerAdvice
@Order(0)
public class ResourceUnavailableExceptionHandler {

    /** The 503 problem detail for {@code refused}. */
    @ExceptionHandler(ResourceUnavailableException.class)
    public ResponseEntity<ProblemDetail> handleResourceUnavailable(ResourceUnavailableException refused) {
        ProblemDetail problem = ProblemDetail.forStatusAndDetail(HttpStatus.SERVICE_UNAVAILABLE,
                "resource '" + refused.resourceName() + "' is unavailable (" + refused.resourceState() + ")");
        problem.setTitle("Resource unavailable");
        problem.setProperty("resource", refused.resourceName());
        problem.setProperty("state", refused.resourceState());
        return ResponseEntity.status(HttpStatus.SERVICE_UNAVAILABLE).body(problem);
    }
}
