/*
 * The visible_if condition evaluator for the browser.
 *
 * It evaluates the JSON tree made by portal/forms/conditions.py with exactly the same
 * rules as the server (tests/forms/condition_vectors.json is run against both):
 *   - empty means missing, null, "", an empty array or false;
 *   - == / !=: two empty sides are equal, an empty side never equals a non-empty one;
 *     true equals true, 1 and "true", "yes", "y", "on", "1" (any case); numbers and
 *     numeric strings compare as numbers; arrays item by item; else exact text;
 *   - < <= > >=: numbers as numbers, text as text; false with an empty side, an array,
 *     a boolean, or a number against non-numeric text;
 *   - in: membership by == in an array, or substring in text; "not in" is the opposite;
 *   - truthy: not empty.
 *
 * Usage: window.PortalConditions.evaluate(tree, answers) -> true / false.
 * Plain ES2017, no build step, no modules.
 */
(function (root) {
  "use strict";

  var NUMERIC = /^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$/;
  var TRUE_WORDS = ["true", "yes", "y", "on", "1"];

  function isEmpty(value) {
    if (value === undefined || value === null || value === false) return true;
    if (typeof value === "string") return value === "";
    return Array.isArray(value) && value.length === 0;
  }

  function asNumber(value) {
    if (typeof value === "number") return value;
    if (typeof value === "string" && NUMERIC.test(value)) return Number(value);
    return null;
  }

  function meansTrue(value) {
    if (typeof value === "string") return TRUE_WORDS.indexOf(value.toLowerCase()) !== -1;
    return value === true || value === 1;
  }

  function equal(a, b) {
    var aEmpty = isEmpty(a);
    var bEmpty = isEmpty(b);
    if (aEmpty || bEmpty) return aEmpty && bEmpty;
    if (a === true || b === true) return meansTrue(a === true ? b : a);
    var aNumber = asNumber(a);
    var bNumber = asNumber(b);
    if (aNumber !== null && bNumber !== null) return aNumber === bNumber;
    if (Array.isArray(a) || Array.isArray(b)) {
      if (!(Array.isArray(a) && Array.isArray(b) && a.length === b.length)) return false;
      return a.every(function (item, i) { return equal(item, b[i]); });
    }
    if (aNumber !== null || bNumber !== null) return false;
    return String(a) === String(b);
  }

  function contains(container, item) {
    if (isEmpty(container)) return false;
    if (Array.isArray(container)) {
      return container.some(function (member) { return equal(item, member); });
    }
    if (typeof container === "string" && typeof item === "string" && item !== "") {
      return container.indexOf(item) !== -1;
    }
    return false;
  }

  function ordered(op, a, b) {
    if (isEmpty(a) || isEmpty(b)) return false;
    var x = asNumber(a);
    var y = asNumber(b);
    if (x === null || y === null) {
      if (x !== null || y !== null) return false;
      if (Array.isArray(a) || Array.isArray(b)) return false;
      if (typeof a === "boolean" || typeof b === "boolean") return false;
      x = String(a);
      y = String(b);
    }
    if (op === "<") return x < y;
    if (op === "<=") return x <= y;
    if (op === ">") return x > y;
    return x >= y;
  }

  function resolve(operand, answers) {
    if ("var" in operand) {
      return Object.prototype.hasOwnProperty.call(answers, operand.var)
        ? answers[operand.var] : undefined;
    }
    if ("list" in operand) return operand.list;
    return operand.value;
  }

  function evaluate(tree, answers) {
    answers = answers || {};
    switch (tree.op) {
      case "and": return tree.args.every(function (arg) { return evaluate(arg, answers); });
      case "or": return tree.args.some(function (arg) { return evaluate(arg, answers); });
      case "not": return !evaluate(tree.arg, answers);
      case "truthy": return !isEmpty(resolve(tree.arg, answers));
    }
    var left = resolve(tree.left, answers);
    var right = resolve(tree.right, answers);
    switch (tree.op) {
      case "==": return equal(left, right);
      case "!=": return !equal(left, right);
      case "in": return contains(right, left);
      case "not in": return !contains(right, left);
      default: return ordered(tree.op, left, right);
    }
  }

  root.PortalConditions = { evaluate: evaluate, isEmpty: isEmpty };
})(typeof window !== "undefined" ? window : this);
