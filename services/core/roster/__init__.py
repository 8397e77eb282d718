"""The member roster (家医网格"双向赋能"成员明细表): one workbook, exported and imported whole."""
