package io.percpuref.examples.spring;

import org.springframework.http.HttpStatus;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;

import java.util.Map;

/**
 * The {@link Search} over HTTP: refused ({@code 503}, the starter's handler) until the index has
 * been built.
 *
 * <pre>
 * GET  /search?prefix=key-1   200 {"key-1": "value-1", ...} | 503 index not built
 * POST /search/index          201 built | 200 built before
 * </pre>
 */
@RestController
@RequestMapping("/search")
class SearchController {

    private final Search search;

    SearchController(Search search) {
        this.search = search;
    }

    @GetMapping
    Map<String, String> find(@RequestParam(defaultValue = "") String prefix) {
        return this.search.find(prefix);
    }

    @PostMapping("/index")
    ResponseEntity<Void> build() {
        return ResponseEntity.status(this.search.build() ? HttpStatus.CREATED : HttpStatus.OK).build();
    }
}
