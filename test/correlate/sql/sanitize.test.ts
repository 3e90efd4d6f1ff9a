/** The shared SQL sanitizer (agent/correlate/sql/sanitize.ts): literals out, structure kept, safe on cut text. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sanitizeSql, sqlOperationName } from '../../../agent/correlate/sql/sanitize.ts';

test('PostgreSQL: strings, numbers, E/X/B strings and dollar quotes become ?; identifiers and $n stay', () => {
  const cases: [string, string][] = [
    ["SELECT * FROM t WHERE a = 'x' AND b > 1.5e-3", 'SELECT * FROM t WHERE a = ? AND b > ?'],
    [
      "INSERT INTO \"Items\" (id) VALUES (42), (-7), ('it''s')",
      'INSERT INTO "Items" (id) VALUES (?), (-?), (?)',
    ],
    ["SELECT E'a\\'b', X'ff', B'101', 0x1F, .5", 'SELECT ?, ?, ?, ?, ?'],
    ['SELECT $$secret$$, $tag$x $$ y$tag$, $1, t1.c2', 'SELECT ?, ?, $1, t1.c2'],
    ['SELECT 1 -- the id is 42\nFROM t /* pin 1234 */ WHERE x = $2', 'SELECT ? \nFROM t   WHERE x = $2'],
  ];
  for (const [query, expected] of cases) assert.equal(sanitizeSql(query, 'postgresql'), expected, query);
});

test('MySQL: double-quoted and backslash-escaped strings are literals, backticks are names, # is a comment', () => {
  assert.equal(
    sanitizeSql('SELECT `col1` FROM `t2` WHERE a = "x\\"y" AND b = \'p\\\'q\' # id 7\nLIMIT 10', 'mysql'),
    'SELECT `col1` FROM `t2` WHERE a = ? AND b = ? \nLIMIT ?',
  );
  assert.equal(sanitizeSql('SELECT @v := 5, ?', 'mysql'), 'SELECT @v := ?, ?');
});

test('a literal or comment cut by the capture cap is replaced to the end', () => {
  assert.equal(sanitizeSql("SELECT 'password is hunt", 'postgresql'), 'SELECT ?');
  assert.equal(sanitizeSql('SELECT $$body never closed', 'postgresql'), 'SELECT ?');
  assert.equal(sanitizeSql('SELECT 1 /* token abc', 'postgresql'), 'SELECT ?  ');
  assert.equal(sanitizeSql('SELECT "x', 'mysql'), 'SELECT ?');
});

test('operation name: the first keyword after comments and parentheses', () => {
  assert.equal(sqlOperationName('  /* c */ -- d\n (select 1)'), 'SELECT');
  assert.equal(sqlOperationName('with x as (select 1) select * from x'), 'WITH');
  assert.equal(sqlOperationName('  ;'), null);
  assert.equal(sqlOperationName(''), null);
});
