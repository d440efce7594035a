package io.percpuref.examples.spring;

import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PutMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;

import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * The {@link Catalog} over HTTP. Once "catalog" is killed, every request answers {@code 503} with a
 * problem detail (the starter's {@code ResourceUnavailableExceptionHandler}), the asynchronous one
 * too.
 *
 * <pre>
 * GET /catalog/{key}         200 value | 404
 * PUT /catalog/{key}         204 (body: the value)
 * GET /catalog/{key}/async   200 value | 404, read on the catalog's I/O threads
 * </pre>
 */
@RestController
@RequestMapping("/catalog")
class CatalogController {

    private final Catalog catalog;

    CatalogController(Catalog catalog) {
        this.catalog = catalog;
    }

    @GetMapping(path = "/{key}", produces = MediaType.TEXT_PLAIN_VALUE)
    ResponseEntity<String> get(@PathVariable String key) {
        return toResponse(this.catalog.get(key));
    }

    @PutMapping(path = "/{key}", consumes = MediaType.TEXT_PLAIN_VALUE)
    ResponseEntity<Void> put(@PathVariable String key, @RequestBody String value) {
        this.catalog.put(key, value);
        return ResponseEntity.noContent().build();
    }

    @GetMapping(path = "/{key}/async", produces = MediaType.TEXT_PLAIN_VALUE)
    CompletableFuture<ResponseEntity<String>> getAsync(@PathVariable String key) {
        return this.catalog.getAsync(key).thenApply(CatalogController::toResponse);
    }

    private static ResponseEntity<String> toResponse(Optional<String> value) {
        return value.map(ResponseEntity::ok).orElseGet(() -> ResponseEntity.notFound().build());
    }
}
